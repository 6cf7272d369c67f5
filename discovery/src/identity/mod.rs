//! Who sent a request: the consumer identity (client certificate, OAuth client, API key, user,
//! session, client network), as a keyed hash and a non-secret label.
