//! One tracked connection: its two directions and where it is in its life.

use crate::packet::{TcpSegment, Timestamp};
use crate::reassembly::{Ctx, HalfStream, RstVerdict, Shared};
use crate::seq::SeqNum;
use crate::stream::{CloseReason, ConnInfo, Dir, StreamSink, TcpEvent};

/// Where a connection is in its life; decides its timeout and its recency list.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Only SYNs seen so far.
    Handshake,
    /// Anything else before the end.
    Established,
    /// Both FINs delivered, or a RST: waiting out the linger before `on_close`.
    Closing(CloseReason),
}

/// One connection of the table. Its key is not stored: `FlowKey::of_conn` computes it from
/// `info` when the table needs it.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) info: ConnInfo,
    orig: HalfStream,
    resp: HalfStream,
    pub(crate) phase: Phase,
    /// Table clock at the last packet; once in `Phase::Closing`, when it entered that phase
    /// (the linger runs from there, and eviction never looks at a closing connection's last
    /// packet), so one field serves both.
    pub(crate) last_seen: Timestamp,
    /// Whether a segment was seen from the originator, and from the responder.
    seen: [bool; 2],
}

impl Conn {
    pub(crate) fn new(info: ConnInfo, phase: Phase, clock: Timestamp) -> Conn {
        Conn {
            info,
            orig: HalfStream::default(),
            resp: HalfStream::default(),
            phase,
            last_seen: clock,
            seen: [false; 2],
        }
    }

    /// Which direction `seg` travels. A segment whose two endpoints are equal counts as
    /// from the originator.
    pub(crate) fn dir_of(&self, seg: &TcpSegment<'_>) -> Dir {
        if self.info.is_orig(seg.src, seg.src_port) {
            Dir::FromOrig
        } else {
            Dir::FromResp
        }
    }

    /// Whether both endpoints have sent something: a conversation rather than a one-packet
    /// flow, a scan or a flood (or a one-sided capture, which never gets here).
    pub(crate) fn both_sides_seen(&self) -> bool {
        self.seen == [true; 2]
    }

    fn half(&self, dir: Dir) -> &HalfStream {
        match dir {
            Dir::FromOrig => &self.orig,
            Dir::FromResp => &self.resp,
        }
    }

    /// Out-of-order bytes held by both directions.
    pub(crate) fn buffered(&self) -> usize {
        self.orig.buffered().saturating_add(self.resp.buffered())
    }

    /// Delivered bytes retained by the fuller direction.
    pub(crate) fn max_retained(&self) -> usize {
        self.orig.retained().max(self.resp.retained())
    }

    /// Out-of-order runs held by the fuller direction.
    pub(crate) fn max_buffered_segments(&self) -> usize {
        self.orig
            .buffered_segments()
            .max(self.resp.buffered_segments())
    }

    /// The reason this connection ended on its own, if it did: RST, or FIN (one is enough
    /// when it is being replaced by a new connection on the same ports).
    pub(crate) fn natural_end(&self) -> Option<CloseReason> {
        match self.phase {
            Phase::Closing(reason) => Some(reason),
            _ if self.orig.fin_seen() || self.resp.fin_seen() => Some(CloseReason::Fin),
            _ => None,
        }
    }

    /// Whether `seg` opens a new connection on the address pair of this finished one: a SYN
    /// whose ISN differs from the one its sender used here.
    pub(crate) fn is_reuse_syn(&self, seg: &TcpSegment<'_>) -> bool {
        seg.flags.syn
            && !seg.flags.rst
            && self.natural_end().is_some()
            && self.half(self.dir_of(seg)).isn() != Some(SeqNum(seg.seq))
    }

    /// Processes one segment of this connection.
    pub(crate) fn handle<S: StreamSink + ?Sized>(
        &mut self,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        shared: &mut Shared,
        sink: &mut S,
    ) {
        let dir = self.dir_of(seg);
        match dir {
            Dir::FromOrig => self.seen[0] = true,
            Dir::FromResp => self.seen[1] = true,
        }
        let stats = &mut shared.stats;
        if (seg.payload.len() as u64) < u64::from(seg.payload_len) {
            stats.truncated_segments = stats.truncated_segments.saturating_add(1);
        }
        let info = &self.info;
        let (this, other) = match dir {
            Dir::FromOrig => (&mut self.orig, &mut self.resp),
            Dir::FromResp => (&mut self.resp, &mut self.orig),
        };
        let mut ctx = Ctx {
            info,
            dir,
            ts,
            sink: &mut *sink,
            shared: &mut *shared,
        };
        match self.phase {
            Phase::Closing(CloseReason::Reset) => {
                if seg.payload_len > 0 {
                    let stats = &mut ctx.shared.stats;
                    stats.data_after_close = stats.data_after_close.saturating_add(1);
                    ctx.event(TcpEvent::DataAfterClose { dir });
                }
                return;
            }
            // Already ended cleanly: a late RST changes nothing.
            Phase::Closing(_) if seg.flags.rst => return,
            _ => {}
        }
        let seq = SeqNum(seg.seq);
        if seg.flags.rst {
            let verdict = this.rst_verdict(seq);
            if verdict == RstVerdict::Exact {
                let mut orig_ctx = Ctx {
                    dir: Dir::FromOrig,
                    ..ctx
                };
                self.orig.reset(&mut orig_ctx);
                let mut resp_ctx = Ctx {
                    dir: Dir::FromResp,
                    ..orig_ctx
                };
                self.resp.reset(&mut resp_ctx);
                self.phase = Phase::Closing(CloseReason::Reset);
            } else {
                let stats = &mut ctx.shared.stats;
                let counter = match verdict {
                    RstVerdict::InWindow => &mut stats.resets_in_window,
                    _ => &mut stats.resets_ignored,
                };
                *counter = counter.saturating_add(1);
                ctx.event(TcpEvent::ResetIgnored { dir });
            }
            return;
        }
        // PAWS (RFC 7323): the receiver drops a segment stamped older than what this sender
        // already sent in order, so its bytes are not the stream's, whatever they hold. SYNs
        // open a new timestamp clock and are left alone.
        let carries_data = seg.payload_len > 0 || seg.flags.fin;
        if !seg.flags.syn && carries_data && this.paws_rejects(seg.tsval) {
            let stats = &mut ctx.shared.stats;
            stats.paws_rejected = stats.paws_rejected.saturating_add(1);
            ctx.event(TcpEvent::PawsRejected { dir });
            return;
        }
        let data_seq = if seg.flags.syn {
            this.note_syn(seq);
            seq + 1
        } else {
            if self.phase == Phase::Handshake {
                self.phase = Phase::Established;
            }
            seq
        };
        if seg.flags.ack {
            // The ACK speaks about the other direction; it goes first because the bytes it
            // acknowledges were sent before this segment's own.
            let mut rev = Ctx {
                dir: dir.reverse(),
                ..ctx
            };
            other.on_peer_ack(&mut rev, SeqNum(seg.ack));
            ctx = Ctx { dir, ..rev };
        }
        this.note_tsval(data_seq, seg.tsval);
        if !seg.flags.syn && !seg.flags.fin && this.is_keepalive(data_seq, seg.payload_len) {
            // Its byte (if any) is filler, not a copy of the stream: neither delivered nor
            // compared, and not a retransmission either.
            let stats = &mut ctx.shared.stats;
            stats.keepalives = stats.keepalives.saturating_add(1);
        } else {
            this.segment(
                &mut ctx,
                data_seq,
                seg.payload,
                seg.payload_len,
                seg.flags.fin,
            );
        }
        if self.orig.fin_delivered()
            && self.resp.fin_delivered()
            && !matches!(self.phase, Phase::Closing(_))
        {
            self.phase = Phase::Closing(CloseReason::Fin);
        }
    }

    /// Gives up every hole of both directions and delivers what is buffered (and any FIN seen),
    /// then gives back the retained copies, before the connection is closed.
    pub(crate) fn flush<S: StreamSink + ?Sized>(
        &mut self,
        ts: Timestamp,
        shared: &mut Shared,
        sink: &mut S,
    ) {
        let info = &self.info;
        let mut ctx = Ctx {
            info,
            dir: Dir::FromOrig,
            ts,
            sink,
            shared,
        };
        self.orig.flush(&mut ctx);
        let mut ctx = Ctx {
            dir: Dir::FromResp,
            ..ctx
        };
        self.resp.flush(&mut ctx);
        self.orig.drop_retained(ctx.shared);
        self.resp.drop_retained(ctx.shared);
    }
}
