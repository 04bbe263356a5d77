//! keyhold-root
