//! What request and response bodies reveal: JSON shape (field names and types, never values) and sensitive-data tags.
