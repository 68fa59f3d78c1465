//! renpy-cloud desktop client library.
