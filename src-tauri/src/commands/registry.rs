//! The IPC surface declared once: `ipc_commands!` turns the one list of commands in `lib.rs` into the Tauri commands,
//! their handler, and the table that `ui/src/lib/backend/generated/commands.ts` is rendered from.
//!
//! Why a list and a macro: Tauri registers commands by name and the web view calls them by name, and nothing in
//! Tauri checks that the two agree. Here a line of the list is the only place a command's name, argument names and
//! types, and answer are written; the compiler checks them against the plain function in `commands/<area>.rs` that the
//! line names, and the boundary test fails when the generated TypeScript differs from what this table renders.
use crate::dto::Bindings;
use std::any::TypeId;
use std::collections::BTreeSet;
use ts_rs::{Config, TS};

/// One IPC command as the web view sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The name `invoke` is called with (the Rust function's name).
    pub name: &'static str,
    /// Each argument's Rust name and TypeScript type, in order; the shell is not one of them.
    pub args: Vec<(&'static str, String)>,
    /// The TypeScript type the command resolves with.
    pub returns: String,
}

/// A type's TypeScript name as ts-rs renders it in the DTOs (`()` answers `void`: the UI awaits nothing).
pub fn ts_of<T: TS + 'static>() -> String {
    if TypeId::of::<T>() == TypeId::of::<()>() {
        "void".to_owned()
    } else {
        T::name(&Config::new())
    }
}

/// An argument's TypeScript type: from ts-rs, or as written after `as` for a type ts-rs cannot render (a Tauri
/// `Channel`, a `serde_json::Value`).
macro_rules! arg_ts {
    ($ty:ty, $ts:literal) => {
        ::std::string::String::from($ts)
    };
    ($ty:ty) => {
        $crate::commands::registry::ts_of::<$ty>()
    };
}
pub(crate) use arg_ts;

/// Declares every IPC command from one list. Each line reads
/// `area::name(arg: Type, …) -> Answer;` and stands for the plain function `commands::area::name(&Shell, arg, …)`.
/// An argument whose type ts-rs cannot render gives its TypeScript after `as`.
///
/// It expands to: a private `ipc` module with one `#[tauri::command]` per line, which runs the plain function off
/// the UI thread (`commands::blocking`); `ipc::handler()`, the `generate_handler!` of exactly those commands; and
/// `command_table()`, the same list as data for the generated TypeScript.
macro_rules! ipc_commands {
    ($( $module:ident :: $name:ident ( $( $arg:ident : $ty:ty $(as $ts:literal)? ),* $(,)? ) -> $ret:ty ; )*) => {
        /// The Tauri commands: one per line of the list, each a thin async wrapper of its plain function.
        mod ipc {
            use super::*;

            $(
                #[::tauri::command]
                async fn $name(
                    shell: ::tauri::State<'_, ::std::sync::Arc<$crate::commands::Shell>>,
                    $( $arg: $ty ),*
                ) -> ::std::result::Result<$ret, $crate::dto::CommandError> {
                    $crate::commands::blocking(&shell, move |shell| {
                        $crate::commands::$module::$name(shell, $( $arg ),*)
                    })
                    .await
                }
            )*

            /// The invoke handler registering every command of the list.
            pub(crate) fn handler() -> impl Fn(::tauri::ipc::Invoke<::tauri::Wry>) -> bool + Send + Sync + 'static {
                ::tauri::generate_handler![$( $name ),*]
            }
        }

        /// Every IPC command in registration order: the table `commands.ts` is generated from.
        pub fn command_table() -> ::std::vec::Vec<$crate::commands::registry::Command> {
            ::std::vec![$(
                $crate::commands::registry::Command {
                    name: stringify!($name),
                    args: ::std::vec![$(
                        (stringify!($arg), $crate::commands::registry::arg_ts!($ty $(, $ts)?))
                    ),*],
                    returns: $crate::commands::registry::ts_of::<$ret>(),
                }
            ),*]
        }
    };
}
pub(crate) use ipc_commands;

/// The file name of the generated command table under `ui/src/lib/backend/generated/`.
pub const FILE: &str = "commands.ts";

/// Tauri hands a command's arguments over by their camelCase names (`entry_id` arrives as `entryId`).
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The identifiers a TypeScript type text names (`Array<EntrySummary> | null` names `Array`, `EntrySummary`, `null`).
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|word| !word.is_empty())
}

/// Renders `commands.ts`: per command, its arguments (`null` for none) and its answer, as two type maps that
/// `tauri.ts` types its one `invoke` call with. `dtos` are the generated DTO files, imported where a type names one.
pub fn typescript(commands: &[Command], dtos: &Bindings) -> String {
    let mut args = String::new();
    let mut results = String::new();
    let mut named = BTreeSet::new();
    for command in commands {
        let fields: Vec<String> = command.args.iter().map(|(name, ts)| format!("{}: {ts}", camel_case(name))).collect();
        let fields = if fields.is_empty() { "null".to_owned() } else { format!("{{ {} }}", fields.join("; ")) };
        args.push_str(&format!("  {}: {fields};\n", command.name));
        results.push_str(&format!("  {}: {};\n", command.name, command.returns));
        for (_, ts) in &command.args {
            named.extend(identifiers(ts).map(str::to_owned));
        }
        named.extend(identifiers(&command.returns).map(str::to_owned));
    }
    let mut imports = String::new();
    if named.contains("Channel") {
        imports.push_str("import type { Channel } from '@tauri-apps/api/core';\n");
    }
    for file in dtos.keys() {
        if let Some(dto) = file.strip_suffix(".ts").filter(|dto| named.contains(*dto)) {
            imports.push_str(&format!("import type {{ {dto} }} from './{dto}';\n"));
        }
    }
    format!(
        "// Generated from the command list in src-tauri/src/lib.rs; do not edit. Regenerate with\n\
         // DTK_UPDATE_BINDINGS=1 cargo test -p downtime-kit-app --test boundary\n\
         {imports}\n\
         /** Each IPC command's arguments under the names Tauri expects; `null` for a command that takes none. */\n\
         export type CommandArgs = {{\n{args}}};\n\n\
         /** What each IPC command resolves with. */\n\
         export type CommandResults = {{\n{results}}};\n\n\
         export type CommandName = keyof CommandArgs;\n"
    )
}
