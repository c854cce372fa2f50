//! Compile-time tests of `#[rtm_event]`: every error message (`ui/fail`, each with the exact
//! `.stderr`) and every accepted handler shape (`ui/pass`). They run on the stable toolchain;
//! after a compiler upgrade changes a message, re-bless with `TRYBUILD=overwrite` and read
//! the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
