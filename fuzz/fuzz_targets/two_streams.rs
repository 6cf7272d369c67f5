//! The input form of the targets that take both directions of a connection (`http`, `h2`):
//! `[n: u8][n control bytes][client length: u32 LE][client bytes][server bytes]`.

/// Control bytes, client bytes and server bytes of an input; `None` when it is too short.
pub fn split(data: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (&n, rest) = data.split_first()?;
    let (ctl, rest) = rest.split_at_checked(usize::from(n))?;
    let (len, rest) = rest.split_at_checked(4)?;
    let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
    let (client, server) = rest.split_at(len.min(rest.len()));
    Some((ctl, client, server))
}
