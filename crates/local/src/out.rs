//! Terminal output that ends quietly when the reader goes away (`iras demo | head`), instead of
//! panicking on a broken pipe as `println!` does.

use std::io::Write as _;

/// Writes one line to stdout; exits the process quietly if stdout was closed.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// `println!` for CLI output: see [`line`].
macro_rules! say {
    () => { $crate::out::line(format_args!("")) };
    ($($t:tt)*) => { $crate::out::line(format_args!($($t)*)) };
}
