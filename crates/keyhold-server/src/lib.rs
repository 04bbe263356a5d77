//! keyhold-server
