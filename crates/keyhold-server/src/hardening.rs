//! Process hardening at start: no core dumps (they would contain keys).

/// Disables core dumps for this process: RLIMIT_CORE = 0 and not dumpable (which also blocks
/// ptrace attach by unprivileged processes). Returns whether both calls succeeded.
#[allow(unsafe_code)]
pub fn disable_core_dumps() -> bool {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads a valid, initialized rlimit struct; prctl(PR_SET_DUMPABLE, 0)
    // takes plain integers. Neither call touches Rust-managed memory.
    let rlimit_ok = unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } == 0;
    // SAFETY: see above.
    let prctl_ok = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } == 0;
    rlimit_ok && prctl_ok
}

#[cfg(test)]
mod tests {
    #[test]
    fn core_dumps_can_be_disabled() {
        assert!(super::disable_core_dumps());
    }
}
