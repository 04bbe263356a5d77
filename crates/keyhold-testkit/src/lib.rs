//! keyhold-testkit
