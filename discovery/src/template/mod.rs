//! Path templating for traffic no spec covers (typed segment classifiers and per-position cardinality).
