//! `docs/commands.md` lists every command the server registers, generated from the command
//! table: this test fails when the table and the document disagree.
//! `PMEMKV_UPDATE_DOCS=1 cargo test -p resp-server --test commands_doc` rewrites the list.

use std::collections::BTreeMap;

use resp_server::cmd::{self, flags};

const BEGIN: &str = "<!-- BEGIN GENERATED COMMAND LIST -->";
const END: &str = "<!-- END GENERATED COMMAND LIST -->";

fn generated() -> String {
    let mut groups: BTreeMap<&str, Vec<&cmd::Command>> = BTreeMap::new();
    for c in cmd::all() {
        groups.entry(c.group).or_default().push(c);
    }
    let mut out = String::new();
    out.push_str(&format!("{} commands.\n", cmd::count()));
    for (group, mut cmds) in groups {
        cmds.sort_by_key(|c| c.name);
        out.push_str(&format!("\n### {group}\n\n| command | arity | flags | summary |\n|---|---:|---|---|\n"));
        for c in cmds {
            let fl: Vec<&str> = flags::NAMES.iter().filter(|(f, _)| c.has(*f)).map(|(_, n)| *n).collect();
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.name.to_uppercase(),
                c.arity,
                fl.join(", "),
                c.summary.replace('|', "\\|")
            ));
        }
    }
    out
}

#[test]
fn command_reference_lists_every_registered_command() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/commands.md");
    let doc = std::fs::read_to_string(&path).expect("docs/commands.md exists");
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/commands.md lacks the {BEGIN} / {END} markers");
    };
    let want = format!("{BEGIN}\n{}{END}", generated());
    let have = &doc[b..e + END.len()];
    if have == want {
        return;
    }
    if std::env::var_os("PMEMKV_UPDATE_DOCS").is_some() {
        let new = format!("{}{}{}", &doc[..b], want, &doc[e + END.len()..]);
        std::fs::write(&path, new).unwrap();
        return;
    }
    panic!(
        "docs/commands.md is out of date with the command table; run \
         PMEMKV_UPDATE_DOCS=1 cargo test -p resp-server --test commands_doc"
    );
}
