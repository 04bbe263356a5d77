//! keyhold-client
