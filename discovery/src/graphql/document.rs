//! The operations of one GraphQL document: their type, their own name and their top-level
//! fields (the field names, not the aliases). Not a validating parser: it reads what an
//! executable document's structure shows and skips everything else (arguments, directives,
//! nested selections) by bracket counting, bounded by [`GraphqlLimits::max_depth`].

use super::lexer::{Lexer, Token};
use super::{GraphqlLimits, LimitHits, OperationType};

/// Fragments remembered per document to resolve top-level spreads.
const MAX_FRAGMENTS: usize = 64;

/// Nested top-level spreads followed (`...A` whose fragment spreads `...B` at its top).
const MAX_SPREAD_HOPS: usize = 4;

/// One operation definition as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Definition {
    pub kind: Option<OperationType>,
    /// Its own name, when it has one that fits `max_name_len`.
    pub name: Option<String>,
    /// Top-level field names in order of appearance, without duplicates.
    pub fields: Vec<String>,
    /// Top-level fragment spreads, resolved after the whole document is read.
    pub spreads: Vec<String>,
}

/// What a document holds.
#[derive(Clone, Debug, Default)]
pub(super) struct Document {
    pub operations: Vec<Definition>,
    /// Fragment name and its top-level fields and spreads.
    pub fragments: Vec<(String, Vec<String>, Vec<String>)>,
    /// The document did not read to its end as an executable document (a type-system
    /// definition, an unterminated string, unbalanced brackets, a limit).
    pub incomplete: bool,
}

struct Reader<'a, 'l> {
    tokens: std::iter::Peekable<Lexer<'a>>,
    limits: &'l GraphqlLimits,
    hits: &'l mut LimitHits,
    incomplete: bool,
}

fn closing(open: u8) -> u8 {
    match open {
        b'{' => b'}',
        b'(' => b')',
        _ => b']',
    }
}

impl<'a> Reader<'a, '_> {
    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.tokens.next();
        if t == Some(Token::Unterminated) {
            self.incomplete = true;
        }
        t
    }

    fn peek(&mut self) -> Option<Token<'a>> {
        self.tokens.peek().copied()
    }

    /// Skips a bracketed group whose opening bracket was just read, at nesting `depth`.
    /// Returns false when the input ended or the depth limit was hit.
    fn skip_group(&mut self, open: u8, depth: usize) -> bool {
        let mut stack: Vec<u8> = vec![closing(open)];
        if depth >= self.limits.max_depth {
            self.hits.depth = true;
            self.incomplete = true;
            return false;
        }
        while let Some(t) = self.next() {
            match t {
                Token::Punct(b @ (b'{' | b'(' | b'[')) => {
                    if depth + stack.len() >= self.limits.max_depth {
                        self.hits.depth = true;
                        self.incomplete = true;
                        return false;
                    }
                    stack.push(closing(b));
                }
                Token::Punct(b @ (b'}' | b')' | b']')) => {
                    if stack.last() == Some(&b) {
                        stack.pop();
                        if stack.is_empty() {
                            return true;
                        }
                    } else {
                        // Unbalanced: the structure cannot be trusted any further.
                        self.incomplete = true;
                        return false;
                    }
                }
                Token::Unterminated => return false,
                _ => {}
            }
        }
        self.incomplete = true;
        false
    }

    /// Skips directives (`@name(args)`) if any follow.
    fn skip_directives(&mut self, depth: usize) -> bool {
        while self.peek() == Some(Token::Punct(b'@')) {
            self.next();
            if !matches!(self.next(), Some(Token::Name(_))) {
                self.incomplete = true;
                return false;
            }
            if self.peek() == Some(Token::Punct(b'(')) {
                self.next();
                if !self.skip_group(b'(', depth) {
                    return false;
                }
            }
        }
        true
    }

    fn keep_name(&mut self, name: &str) -> Option<String> {
        if name.len() > self.limits.max_name_len {
            self.hits.name = true;
            return None;
        }
        Some(name.to_string())
    }

    fn add_field(&mut self, fields: &mut Vec<String>, name: &str) {
        if fields.iter().any(|f| f == name) {
            return;
        }
        if fields.len() >= self.limits.max_fields {
            self.hits.fields = true;
            return;
        }
        if let Some(n) = self.keep_name(name) {
            fields.push(n);
        }
    }

    /// Reads a selection set whose `{` was just read, keeping its top-level field names and
    /// spreads (inline fragments' fields count as top-level: they select on the same type).
    fn selection_set(&mut self, fields: &mut Vec<String>, spreads: &mut Vec<String>, depth: usize) -> bool {
        if depth >= self.limits.max_depth {
            self.hits.depth = true;
            self.incomplete = true;
            return false;
        }
        loop {
            match self.next() {
                Some(Token::Punct(b'}')) => return true,
                Some(Token::Name(first)) => {
                    let mut name = first;
                    if self.peek() == Some(Token::Punct(b':')) {
                        self.next();
                        match self.next() {
                            Some(Token::Name(real)) => name = real,
                            _ => {
                                self.incomplete = true;
                                return false;
                            }
                        }
                    }
                    self.add_field(fields, name);
                    if self.peek() == Some(Token::Punct(b'(')) {
                        self.next();
                        if !self.skip_group(b'(', depth + 1) {
                            return false;
                        }
                    }
                    if !self.skip_directives(depth + 1) {
                        return false;
                    }
                    if self.peek() == Some(Token::Punct(b'{')) {
                        self.next();
                        if !self.skip_group(b'{', depth + 1) {
                            return false;
                        }
                    }
                }
                Some(Token::Spread) => match self.peek() {
                    Some(Token::Name("on")) | Some(Token::Punct(b'@')) | Some(Token::Punct(b'{')) => {
                        if self.peek() == Some(Token::Name("on")) {
                            self.next();
                            self.next();
                        }
                        if !self.skip_directives(depth + 1) {
                            return false;
                        }
                        if self.next() != Some(Token::Punct(b'{')) || !self.selection_set(fields, spreads, depth + 1) {
                            self.incomplete = true;
                            return false;
                        }
                    }
                    Some(Token::Name(frag)) => {
                        self.next();
                        if spreads.len() < self.limits.max_fields && !spreads.iter().any(|s| s == frag) {
                            if let Some(f) = self.keep_name(frag) {
                                spreads.push(f);
                            }
                        }
                        if !self.skip_directives(depth + 1) {
                            return false;
                        }
                    }
                    _ => {
                        self.incomplete = true;
                        return false;
                    }
                },
                _ => {
                    self.incomplete = true;
                    return false;
                }
            }
        }
    }

    /// Reads an operation after its keyword (or at its `{` for the shorthand form).
    fn operation(&mut self, kind: OperationType, shorthand: bool) -> Option<Definition> {
        let mut def = Definition { kind: Some(kind), ..Definition::default() };
        if !shorthand {
            if let Some(Token::Name(n)) = self.peek() {
                self.next();
                def.name = self.keep_name(n);
            }
            if self.peek() == Some(Token::Punct(b'(')) {
                self.next();
                if !self.skip_group(b'(', 1) {
                    return None;
                }
            }
            if !self.skip_directives(1) {
                return None;
            }
            if self.next() != Some(Token::Punct(b'{')) {
                self.incomplete = true;
                return None;
            }
        }
        let (mut fields, mut spreads) = (Vec::new(), Vec::new());
        let complete = self.selection_set(&mut fields, &mut spreads, 1);
        def.fields = fields;
        def.spreads = spreads;
        // A cut operation still says what it is and what it asked for first.
        let _ = complete;
        Some(def)
    }

    fn fragment(&mut self, doc: &mut Document) -> bool {
        let Some(Token::Name(name)) = self.next() else { return false };
        if self.next() != Some(Token::Name("on")) || !matches!(self.next(), Some(Token::Name(_))) {
            return false;
        }
        if !self.skip_directives(1) || self.next() != Some(Token::Punct(b'{')) {
            return false;
        }
        let (mut fields, mut spreads) = (Vec::new(), Vec::new());
        let complete = self.selection_set(&mut fields, &mut spreads, 1);
        if doc.fragments.len() < MAX_FRAGMENTS {
            if let Some(n) = self.keep_name(name) {
                doc.fragments.push((n, fields, spreads));
            }
        }
        complete
    }
}

/// Reads the operations (and fragments) of a document.
pub(super) fn read(src: &[u8], limits: &GraphqlLimits, hits: &mut LimitHits) -> Document {
    let mut doc = Document::default();
    let mut r = Reader { tokens: Lexer::new(src).peekable(), limits, hits, incomplete: false };
    while let Some(t) = r.next() {
        let def = match t {
            Token::Punct(b'{') => r.operation(OperationType::Query, true),
            Token::Name("query") => r.operation(OperationType::Query, false),
            Token::Name("mutation") => r.operation(OperationType::Mutation, false),
            Token::Name("subscription") => r.operation(OperationType::Subscription, false),
            Token::Name("fragment") => {
                if !r.fragment(&mut doc) {
                    r.incomplete = true;
                }
                None
            }
            _ => {
                // Type-system definitions or anything else: not an executable document.
                r.incomplete = true;
                break;
            }
        };
        if let Some(d) = def {
            if doc.operations.len() < limits.max_operations {
                doc.operations.push(d);
            } else {
                r.hits.fields = true;
            }
        }
        if r.incomplete {
            break;
        }
    }
    doc.incomplete = r.incomplete;
    resolve_spreads(&mut doc, limits);
    doc
}

/// Adds the top-level fields of the fragments an operation spreads at its top level.
fn resolve_spreads(doc: &mut Document, limits: &GraphqlLimits) {
    let fragments = std::mem::take(&mut doc.fragments);
    for op in &mut doc.operations {
        let mut pending: Vec<String> = std::mem::take(&mut op.spreads);
        for _ in 0..MAX_SPREAD_HOPS {
            let mut next = Vec::new();
            for s in &pending {
                if let Some((_, fields, spreads)) = fragments.iter().find(|(n, _, _)| n == s) {
                    for f in fields {
                        if !op.fields.contains(f) && op.fields.len() < limits.max_fields {
                            op.fields.push(f.clone());
                        }
                    }
                    next.extend(spreads.iter().cloned());
                }
            }
            if next.is_empty() {
                break;
            }
            pending = next;
        }
    }
    doc.fragments = fragments;
}
