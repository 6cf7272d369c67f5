//! What each frame does once its header or payload is read: stream bookkeeping, header
//! blocks through HPACK, SETTINGS, resets, GOAWAY, and the flood counters.

use std::sync::Arc;

use crate::http::{Direction, HttpEvent};

use super::conn::{body_events, Mode, PendingBlock, Read};
use super::frame::{self, FrameHeader, DEFAULT_MAX_FRAME, LARGEST_FRAME};
use super::hpack::{Block, BlockLimits};
use super::stream::{apply_request, apply_response, apply_trailers, split, Ctx};
use super::{H2ConnParser, H2Event, H2Stats};

/// Bytes of a GOAWAY kept (last stream id and error code; the debug data is skipped).
const GOAWAY_KEPT: u32 = 8;

impl H2ConnParser {
    fn cx_parts(&mut self) -> (Arc<crate::http::HttpConfig>, Arc<super::H2Config>) {
        (Arc::clone(&self.cfg), Arc::clone(&self.h2))
    }

    /// A complete frame header: counts it, checks it, and sets how its payload is read.
    pub(super) fn frame_header(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, raw: &[u8; 9]) {
        let Some(h) = FrameHeader::parse(raw) else { return };
        stats.frames += 1;
        match h.kind {
            frame::DATA => stats.data_frames += 1,
            frame::HEADERS => stats.headers_frames += 1,
            frame::PRIORITY => stats.priority_frames += 1,
            frame::RST_STREAM => stats.rst_stream_frames += 1,
            frame::SETTINGS => stats.settings_frames += 1,
            frame::PUSH_PROMISE => stats.push_promise_frames += 1,
            frame::PING => stats.ping_frames += 1,
            frame::GOAWAY => stats.goaway_frames += 1,
            frame::WINDOW_UPDATE => stats.window_update_frames += 1,
            frame::CONTINUATION => stats.continuation_frames += 1,
            _ => stats.unknown_frames += 1,
        }
        let h2 = Arc::clone(&self.h2);
        // A header block in progress must go on with CONTINUATION frames on its stream.
        let block_stream = self.way(dir).block.as_ref().map(|b| b.stream);
        if let Some(bs) = block_stream {
            if h.kind != frame::CONTINUATION || h.stream != bs {
                stats.malformed_frames += 1;
                self.conn_event(stats, H2Event::MalformedFrame { dir, frame_type: h.kind });
                let way = self.way_mut(dir);
                way.block = None;
                way.hpack.lose();
            }
        }
        let max = self.way(dir).max_frame;
        if h.len > max {
            stats.oversized_frames += 1;
            self.conn_event(stats, H2Event::OversizedFrame { dir, len: h.len, max });
        }
        let known = h.kind <= frame::CONTINUATION;
        let mut mode = Mode::Skip;
        if known && !h.valid_for_type() {
            stats.malformed_frames += 1;
            self.conn_event(stats, H2Event::MalformedFrame { dir, frame_type: h.kind });
            if matches!(h.kind, frame::HEADERS | frame::CONTINUATION | frame::PUSH_PROMISE) {
                self.way_mut(dir).hpack.lose();
            }
        } else {
            match h.kind {
                frame::DATA if self.data_stream(stats, ts, dir, h.stream) => {
                    mode = Mode::Data { pad_pending: h.flags & frame::PADDED != 0, data_left: h.len };
                }
                frame::HEADERS | frame::PUSH_PROMISE => {
                    if h.len as usize <= h2.max_header_block {
                        mode = Mode::Collect { keep: h.len };
                    } else {
                        self.block_over_limit(stats, dir, h);
                    }
                }
                frame::CONTINUATION => match self.way_mut(dir).block.as_mut() {
                    Some(b) => {
                        b.continuations += 1;
                        let flood = b.continuations > h2.max_continuations && !b.dropped;
                        let over = b.data.len().saturating_add(h.len as usize) > h2.max_header_block && !b.dropped;
                        if flood {
                            b.dropped = true;
                            b.data = Vec::new();
                            stats.continuation_floods += 1;
                            self.conn_event(stats, H2Event::ContinuationFlood { dir, limit: h2.max_continuations });
                        } else if over {
                            b.dropped = true;
                            b.data = Vec::new();
                            stats.header_block_limit_hits += 1;
                            self.conn_event(stats, H2Event::HeaderBlockLimit { dir, limit: h2.max_header_block });
                        }
                        if self.way(dir).block.as_ref().is_some_and(|b| !b.dropped) {
                            mode = Mode::Collect { keep: h.len };
                        }
                    }
                    None => {
                        // The start of this block was lost (a gap or a join came before it):
                        // its table changes are unknown.
                        self.way_mut(dir).hpack.lose();
                    }
                },
                frame::GOAWAY => mode = Mode::Collect { keep: GOAWAY_KEPT },
                frame::SETTINGS | frame::PING | frame::RST_STREAM | frame::WINDOW_UPDATE | frame::PRIORITY => {
                    mode = Mode::Collect { keep: h.len.min(h2.max_control_frame as u32) };
                }
                _ => {}
            }
        }
        let way = self.way_mut(dir);
        way.buf.clear();
        way.read = Read::Payload { h, left: h.len, mode };
        if h.len == 0 {
            self.frame_done(stats, ts, dir);
        }
    }

    /// A HEADERS or PUSH_PROMISE frame too large to collect: its block is lost.
    fn block_over_limit(&mut self, stats: &mut H2Stats, dir: Direction, h: FrameHeader) {
        stats.header_block_limit_hits += 1;
        let limit = self.h2.max_header_block;
        self.conn_event(stats, H2Event::HeaderBlockLimit { dir, limit });
        let way = self.way_mut(dir);
        way.hpack.lose();
        if h.flags & frame::END_HEADERS == 0 {
            way.block = Some(Box::new(PendingBlock {
                stream: h.stream,
                promised: None,
                end_stream: h.flags & frame::END_STREAM != 0,
                data: Vec::new(),
                continuations: 0,
                dropped: true,
            }));
        }
    }

    /// Whether DATA on `stream` is followed (the stream is known, or may be opened).
    fn data_stream(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, stream: u32) -> bool {
        let (cfg, h2) = self.cx_parts();
        let mut cx = Ctx { cfg: &cfg, h2: &h2, stats, ready: &mut self.ready };
        let known = self.streams.get_mut(stream).is_some();
        let Some(s) = self.streams.open(ts, stream, &mut cx) else { return false };
        if !known {
            // DATA on a stream whose headers were not seen: opened before the join.
            if dir == Direction::ToClient {
                s.req.ended = true;
                cx.event(&mut s.t, H2Event::ResponseWithoutRequest);
            }
            s.t.h2.get_or_insert_with(Box::default).request_unknown_fields += 1;
        }
        let half = s.half_mut(dir);
        if half.body.is_none() {
            half.body =
                Some(Box::new(crate::http::body::Body::new(crate::http::body::Framing::UntilClose, None, false, &cfg)));
        }
        true
    }

    /// Data bytes of a DATA frame.
    pub(super) fn data(&mut self, stats: &mut H2Stats, _ts: u64, dir: Direction, stream: u32, bytes: &[u8]) {
        let (cfg, h2) = self.cx_parts();
        let cx = Ctx { cfg: &cfg, h2: &h2, stats, ready: &mut self.ready };
        let Some(s) = self.streams.get_mut(stream) else { return };
        let half = s.half_mut(dir);
        let mut events = Vec::new();
        if let Some(body) = half.body.as_mut() {
            let note = body.add(bytes);
            events = body_events(note, dir, cx.stats);
            if body.capture.take_limit_hit() {
                cx.stats.http.body_capture_limit_hits += 1;
                events.push(HttpEvent::BodyCaptureLimit { dir, limit: cfg.max_body_capture });
            }
        }
        let counted = half.grpc.as_mut().map(|g| g.feed(bytes));
        if let (Some(c), Some(g)) = (counted, s.t.grpc.as_mut()) {
            g.add(dir == Direction::ToServer, c);
        }
        for e in events {
            if s.t.events.len() < cfg.max_events_per_transaction {
                s.t.events.push(e);
                cx.stats.http.events += 1;
            } else {
                cx.stats.http.events_dropped += 1;
            }
        }
    }

    /// The current frame's payload is complete.
    pub(super) fn frame_done(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction) {
        let Read::Payload { h, mode, .. } = self.way(dir).read else { return };
        let payload = std::mem::take(&mut self.way_mut(dir).buf.0);
        self.way_mut(dir).read = Read::Header;
        let collected = matches!(mode, Mode::Collect { .. });
        match h.kind {
            frame::DATA if matches!(mode, Mode::Data { .. }) && h.flags & frame::END_STREAM != 0 => {
                self.end_stream(stats, ts, dir, h.stream);
            }
            frame::HEADERS if collected => {
                let Some(fragment) = headers_fragment(h, &payload) else {
                    self.malformed(stats, dir, h);
                    return;
                };
                self.block_start(stats, ts, dir, h, None, fragment.to_vec());
            }
            // Dropped at the block limit; a block ending here is lost whole.
            frame::HEADERS if h.flags & frame::END_HEADERS != 0 => {
                self.lost_block(stats, ts, dir, h.stream, None, h.flags & frame::END_STREAM != 0);
            }
            frame::PUSH_PROMISE if collected => match push_fragment(h, &payload) {
                Some((promised, fragment)) => {
                    self.block_start(stats, ts, dir, h, Some(promised), fragment.to_vec());
                }
                None => self.malformed(stats, dir, h),
            },
            frame::CONTINUATION => {
                if collected {
                    if let Some(b) = self.way_mut(dir).block.as_mut() {
                        b.data.extend_from_slice(&payload);
                    }
                }
                if h.flags & frame::END_HEADERS != 0 {
                    if let Some(b) = self.way_mut(dir).block.take() {
                        self.block_end(stats, ts, dir, *b);
                    }
                }
            }
            frame::SETTINGS if collected => self.settings(stats, ts, dir, h, &payload),
            frame::PING if collected && h.flags & frame::ACK == 0 => {
                let (window, max) = (self.h2.flood_window_ns, self.h2.max_pings_per_window);
                if let Some(count) = self.way_mut(dir).pings.hit(ts, window, max) {
                    stats.ping_floods += 1;
                    self.conn_event(stats, H2Event::PingFlood { dir, count });
                }
            }
            frame::RST_STREAM if collected => {
                let code = be32(&payload).unwrap_or(0);
                self.reset(stats, ts, dir, h.stream, code);
            }
            frame::GOAWAY if collected => {
                let last = be32(&payload).unwrap_or(0) & 0x7fff_ffff;
                let code = payload.get(4..).and_then(be32).unwrap_or(0);
                self.goaway(stats, ts, dir, last, code);
            }
            _ => {}
        }
        // The buffer is reused for the next frame only while it is small.
        let way = self.way_mut(dir);
        if way.buf.is_empty() && payload.capacity() <= 1024 {
            let mut p = payload;
            p.clear();
            way.buf.0 = p;
        }
    }

    fn malformed(&mut self, stats: &mut H2Stats, dir: Direction, h: FrameHeader) {
        stats.malformed_frames += 1;
        self.conn_event(stats, H2Event::MalformedFrame { dir, frame_type: h.kind });
        if matches!(h.kind, frame::HEADERS | frame::PUSH_PROMISE) {
            self.way_mut(dir).hpack.lose();
        }
    }

    fn block_start(
        &mut self,
        stats: &mut H2Stats,
        ts: u64,
        dir: Direction,
        h: FrameHeader,
        promised: Option<u32>,
        data: Vec<u8>,
    ) {
        let block = PendingBlock {
            stream: h.stream,
            promised,
            end_stream: h.flags & frame::END_STREAM != 0,
            data,
            continuations: 0,
            dropped: false,
        };
        if h.flags & frame::END_HEADERS != 0 {
            self.block_end(stats, ts, dir, block);
        } else {
            self.way_mut(dir).block = Some(Box::new(block));
        }
    }

    /// A header block is complete: decode it and apply it to its stream.
    fn block_end(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, block: PendingBlock) {
        if block.dropped {
            self.way_mut(dir).hpack.lose();
            self.lost_block(stats, ts, dir, block.stream, block.promised, block.end_stream);
            return;
        }
        let limits = BlockLimits { max_list: self.h2.max_header_list, max_field: self.h2.max_field_bytes };
        let decoded = self.way_mut(dir).hpack.decode(&block.data, limits);
        self.block_stats(stats, dir, &decoded, block.data.len());
        self.apply_block(stats, ts, dir, &block, &decoded);
    }

    fn block_stats(&mut self, stats: &mut H2Stats, dir: Direction, b: &Block, encoded: usize) {
        stats.hpack_unknown_fields += u64::from(b.unknown);
        stats.field_limit_hits += u64::from(b.field_dropped);
        if b.list_dropped > 0 {
            stats.header_list_limit_hits += 1;
            self.conn_event(stats, H2Event::HeaderListLimit { dir, size: b.list_size });
        }
        if b.is_bomb(encoded) {
            stats.hpack_bombs += 1;
            self.conn_event(stats, H2Event::HpackBomb { dir, encoded, decoded: b.list_size });
        }
        if let Some(error) = b.error {
            stats.hpack_errors += 1;
            self.conn_event(stats, H2Event::HpackError { dir, error });
        }
        if b.desynced {
            self.conn_event(stats, H2Event::HpackOutOfSync { dir });
        }
        if b.resynced {
            stats.hpack_resyncs += 1;
            self.conn_event(stats, H2Event::HpackResynced { dir });
        }
    }

    /// A block that could not be decoded still tells its stream that headers came.
    fn lost_block(
        &mut self,
        stats: &mut H2Stats,
        ts: u64,
        dir: Direction,
        stream: u32,
        promised: Option<u32>,
        end_stream: bool,
    ) {
        let empty = Block { unknown: 1, ..Block::default() };
        let block = PendingBlock { stream, promised, end_stream, data: Vec::new(), continuations: 0, dropped: true };
        self.apply_block(stats, ts, dir, &block, &empty);
    }

    fn apply_block(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, block: &PendingBlock, decoded: &Block) {
        let (cfg, h2) = self.cx_parts();
        let mut cx = Ctx { cfg: &cfg, h2: &h2, stats, ready: &mut self.ready };
        let fields = split(&decoded.fields, decoded.unknown);
        if let Some(promised) = block.promised {
            // A server push: the promise carries the request of the promised stream.
            let Some(s) = self.streams.open(ts, promised, &mut cx) else { return };
            cx.stats.pushed_streams += 1;
            s.t.h2.get_or_insert_with(Box::default).pushed = true;
            apply_request(ts, s, &fields, &mut cx);
            s.req.ended = true;
            s.t.request_end = Some(ts);
            return;
        }
        let known = self.streams.get_mut(block.stream).is_some();
        let Some(s) = self.streams.open(ts, block.stream, &mut cx) else { return };
        match dir {
            Direction::ToServer => {
                if s.req.headers {
                    apply_trailers(dir, s, &fields, &mut cx);
                } else {
                    apply_request(ts, s, &fields, &mut cx);
                }
            }
            Direction::ToClient => {
                if !known {
                    // A response to a request sent before the join.
                    s.req.ended = true;
                    s.t.h2.get_or_insert_with(Box::default).request_unknown_fields += 1;
                    cx.event(&mut s.t, H2Event::ResponseWithoutRequest);
                }
                if s.resp.final_status {
                    apply_trailers(dir, s, &fields, &mut cx);
                } else {
                    apply_response(ts, s, &fields, block.end_stream, &mut cx);
                }
            }
        }
        if block.end_stream {
            self.end_stream(stats, ts, dir, block.stream);
        }
    }

    /// END_STREAM on `dir` of `stream`.
    fn end_stream(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, stream: u32) {
        let (cfg, h2) = self.cx_parts();
        let mut cx = Ctx { cfg: &cfg, h2: &h2, stats, ready: &mut self.ready };
        let Some(s) = self.streams.get_mut(stream) else { return };
        s.half_mut(dir).ended = true;
        match dir {
            Direction::ToServer => s.t.request_end = Some(ts),
            Direction::ToClient => s.t.response_end = Some(ts),
        }
        self.streams.emit_if_done(ts, stream, &mut cx);
    }

    fn settings(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, h: FrameHeader, payload: &[u8]) {
        if h.flags & frame::ACK != 0 {
            return;
        }
        let (window, max) = (self.h2.flood_window_ns, self.h2.max_settings_per_window);
        if let Some(count) = self.way_mut(dir).settings.hit(ts, window, max) {
            stats.settings_floods += 1;
            self.conn_event(stats, H2Event::SettingsFlood { dir, count });
        }
        // A side's settings bound what the other side sends.
        let peer = self.way_mut(dir.reverse());
        for entry in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([entry.first().copied().unwrap_or(0), entry.get(1).copied().unwrap_or(0)]);
            let value = entry.get(2..).and_then(be32).unwrap_or(0);
            match id {
                1 => peer.hpack.set_setting(value as usize),
                5 => peer.max_frame = value.clamp(DEFAULT_MAX_FRAME, LARGEST_FRAME),
                _ => {}
            }
        }
    }

    fn reset(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, stream: u32, code: u32) {
        if dir == Direction::ToServer {
            let (window, max) = (self.h2.flood_window_ns, self.h2.max_resets_per_window);
            if let Some(count) = self.resets.hit(ts, window, max) {
                stats.rapid_resets += 1;
                self.conn_event(stats, H2Event::RapidReset { count });
            }
        }
        let (cfg, h2) = self.cx_parts();
        let mut cx = Ctx { cfg: &cfg, h2: &h2, stats, ready: &mut self.ready };
        let Some(s) = self.streams.get_mut(stream) else { return };
        cx.stats.streams_reset += 1;
        s.t.h2.get_or_insert_with(Box::default).reset = Some((dir, code));
        cx.event(&mut s.t, H2Event::StreamReset { dir, error_code: code });
        self.streams.emit(ts, stream, &mut cx);
    }

    fn goaway(&mut self, stats: &mut H2Stats, ts: u64, dir: Direction, last: u32, code: u32) {
        // The sender will not process streams its peer opened above `last`.
        let peer_parity = match dir {
            Direction::ToClient => 1,
            Direction::ToServer => 0,
        };
        let (cfg, h2) = self.cx_parts();
        let mut cx = Ctx { cfg: &cfg, h2: &h2, stats, ready: &mut self.ready };
        let cut = self.streams.ids_where(|id, _| id % 2 == peer_parity && id > last);
        for id in cut {
            if let Some(s) = self.streams.get_mut(id) {
                cx.stats.streams_goaway += 1;
                s.t.h2.get_or_insert_with(Box::default).goaway = true;
                cx.event(&mut s.t, H2Event::GoAway { dir, error_code: code });
            }
            self.streams.emit(ts, id, &mut cx);
        }
    }
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

/// The header block fragment of a HEADERS payload, without padding and priority.
fn headers_fragment(h: FrameHeader, p: &[u8]) -> Option<&[u8]> {
    let (pad, mut p) = if h.flags & frame::PADDED != 0 {
        let (&pad, rest) = p.split_first()?;
        (usize::from(pad), rest)
    } else {
        (0, p)
    };
    if h.flags & frame::PRIORITY_FLAG != 0 {
        p = p.get(5..)?;
    }
    p.get(..p.len().checked_sub(pad)?)
}

/// The promised stream and header block fragment of a PUSH_PROMISE payload.
fn push_fragment(h: FrameHeader, p: &[u8]) -> Option<(u32, &[u8])> {
    let (pad, p) = if h.flags & frame::PADDED != 0 {
        let (&pad, rest) = p.split_first()?;
        (usize::from(pad), rest)
    } else {
        (0, p)
    };
    let promised = be32(p)? & 0x7fff_ffff;
    let rest = p.get(4..)?;
    Some((promised, rest.get(..rest.len().checked_sub(pad)?)?))
}
