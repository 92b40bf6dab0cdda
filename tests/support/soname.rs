//! Shared by tests/c_tests.rs and tests/cpp_tests.rs: the name their programs load at run time.

use std::io::ErrorKind;
use std::path::Path;

/// build.rs gives libinfer.so the SONAME libinfer.so.<RT_ABI_VERSION>, which a program linked with
/// -linfer records and looks for at run time; link that name to the freshly built libinfer.so in
/// lib_dir (relative, so the link follows every rebuild).
pub fn link_soname(lib_dir: &Path) {
    let link = lib_dir.join(format!("libinfer.so.{}", infer::ffi::RT_ABI_VERSION));
    let target = Path::new("libinfer.so");
    let is_ours = || std::fs::read_link(&link).is_ok_and(|t| t == target);
    if is_ours() {
        return;
    }
    let _ = std::fs::remove_file(&link);
    match std::os::unix::fs::symlink(target, &link) {
        Ok(()) => {}
        // Another test program made the same link meanwhile.
        Err(e) if e.kind() == ErrorKind::AlreadyExists && is_ours() => {}
        Err(e) => panic!("cannot link {} to libinfer.so: {e}", link.display()),
    }
}
