//! JAAS login configuration files (`-Djava.security.auth.login.config=<file>`), read as the JDK's `ConfigFile`
//! reads them, for the SASL users of the client port: the section ZooKeeper logs in with
//! (`zookeeper.sasl.serverconfig`, default `Server`) lists `DigestLoginModule` entries whose `user_<name>`
//! options are the DIGEST-MD5 users (`ServerCnxnFactory.configureSaslLogin`).
//!
//! ```text
//! Server {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     user_super="adminsecret"
//!     user_bob="bobsecret";
//! };
//! ```
//!
//! Errors name the line, never an option's value: values are passwords.

use std::collections::BTreeMap;

use super::JvmFlags;

/// One login module line of a section.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasEntry {
    /// The login module class.
    pub module: String,
    /// `required`, `requisite`, `sufficient` or `optional`, as written.
    pub flag: String,
    /// The options, in file order (a later duplicate wins where they are looked up).
    pub options: Vec<(String, String)>,
}

impl std::fmt::Debug for JaasEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("JaasEntry")
            .field("module", &self.module)
            .field("flag", &self.flag)
            .field("option_keys", &keys)
            .finish()
    }
}

/// The sections of a JAAS file, by name.
pub type Jaas = BTreeMap<String, Vec<JaasEntry>>;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Punct(char),
}

/// Splits the text as `StreamTokenizer` does for `ConfigFile`: `//` and `/* */` comments, strings in double or
/// single quotes with backslash escapes, words of letters, digits and `$_-*.`, other characters alone.
fn tokens(text: &str) -> Result<Vec<(usize, Token)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                loop {
                    match chars.next() {
                        None => return Err(format!("line {line}: unterminated /* comment")),
                        Some('/') if last == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            last = c;
                        }
                    }
                }
            }
            '"' | '\'' => {
                let (quote, start) = (c, line);
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None | Some('\n') => return Err(format!("line {start}: unterminated quoted string")),
                        Some(c) if c == quote => break,
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some(c) => value.push(c),
                            None => return Err(format!("line {start}: unterminated quoted string")),
                        },
                        Some(c) => value.push(c),
                    }
                }
                out.push((start, Token::Quoted(value)));
            }
            c if is_word_start(c) => {
                let mut word = String::from(c);
                while let Some(&c) = chars.peek() {
                    if !(is_word_start(c) || c.is_ascii_digit() || c == '.') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push((line, Token::Word(word)));
            }
            c => out.push((line, Token::Punct(c))),
        }
    }
    Ok(out)
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '$' | '_' | '-' | '*') || u32::from(c) >= 0xa0
}

/// Parses a JAAS file's text; `${name}` in values expands to the JVM property `name` (`${/}` is `/`).
pub fn parse(text: &str, jvm: &JvmFlags) -> Result<Jaas, String> {
    let toks = tokens(text)?;
    let mut it = toks.into_iter().peekable();
    let mut jaas = Jaas::new();
    let last_line = text.lines().count().max(1);
    let mut next = |what: &str| -> Result<(usize, Token), String> {
        it.next()
            .ok_or_else(|| format!("line {last_line}: expected {what}, found the end of the file"))
    };
    loop {
        let (line, tok) = match next("a section name") {
            Ok(t) => t,
            Err(_) => return Ok(jaas),
        };
        let name = match tok {
            Token::Word(w) | Token::Quoted(w) => w,
            Token::Punct(c) => return Err(format!("line {line}: expected a section name, found {c:?}")),
        };
        expect(next("'{'")?, '{')?;
        let mut entries = Vec::new();
        loop {
            let (line, tok) = next("a login module or '}'")?;
            let module = match tok {
                Token::Punct('}') => break,
                Token::Word(w) => w,
                _ => return Err(format!("line {line}: expected a login module class name")),
            };
            let (line, flag) = next("a control flag")?;
            let flag = match flag {
                Token::Word(f)
                    if ["required", "requisite", "sufficient", "optional"]
                        .iter()
                        .any(|k| f.eq_ignore_ascii_case(k)) =>
                {
                    f
                }
                _ => {
                    return Err(format!(
                        "line {line}: expected a control flag (required, requisite, sufficient or optional)"
                    ))
                }
            };
            let mut options = Vec::new();
            loop {
                let (line, tok) = next("an option or ';'")?;
                let key = match tok {
                    Token::Punct(';') => break,
                    Token::Word(k) => k,
                    _ => return Err(format!("line {line}: expected an option name or ';'")),
                };
                expect(next("'='")?, '=')?;
                let (line, value) = next("an option value")?;
                let value = match value {
                    Token::Word(v) | Token::Quoted(v) => expand(&v, jvm)
                        .map_err(|name| format!("line {line}: ${{{name}}} is not a set property"))?,
                    Token::Punct(_) => return Err(format!("line {line}: expected a value for option {key}")),
                };
                options.push((key, value));
            }
            entries.push(JaasEntry {
                module,
                flag,
                options,
            });
        }
        expect(next("';'")?, ';')?;
        if jaas.insert(name.clone(), entries).is_some() {
            return Err(format!("line {line}: section {name} is given more than once"));
        }
    }
}

fn expect((line, tok): (usize, Token), punct: char) -> Result<(), String> {
    if tok == Token::Punct(punct) {
        Ok(())
    } else {
        Err(format!("line {line}: expected {punct:?}"))
    }
}

/// `${name}` from the JVM properties, as `PropertyExpander` does; the name of an unset one is the error.
fn expand(value: &str, jvm: &JvmFlags) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find('}') else {
            out.push_str(&rest[at..]);
            return Ok(out);
        };
        let name = &rest[at + 2..at + end];
        match (name, jvm.get(name)) {
            ("/", _) => out.push('/'),
            (_, Some(v)) => out.push_str(v),
            (_, None) => return Err(name.to_owned()),
        }
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kazoos_server_section_is_read() {
        let text = "\nServer {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    \
                    user_super=\"super_secret\"\n    user_jaasuser=\"jaas_password\";\n};";
        let jaas = parse(text, &JvmFlags::default()).expect("parses");
        let server = &jaas["Server"];
        assert_eq!(server.len(), 1);
        assert_eq!(
            server[0].module,
            "org.apache.zookeeper.server.auth.DigestLoginModule"
        );
        assert_eq!(
            server[0].options,
            [
                ("user_super".to_owned(), "super_secret".to_owned()),
                ("user_jaasuser".to_owned(), "jaas_password".to_owned())
            ]
        );
        assert!(!format!("{jaas:?}").contains("super_secret"));
    }

    #[test]
    fn comments_several_sections_quotes_and_properties() {
        let text = "// comment\nClient { org.apache.zookeeper.server.auth.DigestLoginModule required \
                    username=\"bob\" password='p\\'w'; };\n/* a\n block */ Server {\n\
                    a.B Optional path=\"${dir}${/}x\" bare=word-1.2;\n};\nEmpty { };";
        let jvm = JvmFlags::parse("-Ddir=/etc");
        let jaas = parse(text, &jvm).expect("parses");
        assert_eq!(jaas["Client"][0].options[1].1, "p'w");
        assert_eq!(
            jaas["Server"][0].options,
            [
                ("path".to_owned(), "/etc/x".to_owned()),
                ("bare".to_owned(), "word-1.2".to_owned())
            ]
        );
        assert!(jaas["Empty"].is_empty());
        assert_eq!(parse("", &jvm), Ok(Jaas::new()));
    }

    #[test]
    fn malformed_files_fail_naming_the_line_without_values() {
        for (text, line) in [
            ("Server {\n m required user_a=\"secret\"\n};", 3),
            ("Server {\n m mandatory;\n};", 2),
            ("Server {\n m required user_a=\"secret;\n};", 2),
            ("Server {\n m required a=${unset};\n};", 2),
            ("Server { m required; };\nServer { m required; };", 2),
            ("Server { m required; }", 1),
            ("Server {\n m required a=1;\n};", 2),
        ] {
            let err = parse(text, &JvmFlags::default()).expect_err(text);
            assert!(err.starts_with(&format!("line {line}:")), "{text:?}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    proptest::proptest! {
        /// No text panics the parser (ASCII soup of the characters the grammar cares about, and any text).
        #[test]
        fn no_text_panics_the_parser(
            soup in "[{};=\"'/*\\ \na-z_$.0-9-]{0,120}",
            any in ".{0,80}",
        ) {
            let jvm = JvmFlags::parse("-Dset=1");
            let _ = parse(&soup, &jvm);
            let _ = parse(&any, &jvm);
            let _ = parse(&format!("S {{ m required a=\"${{{soup}}}\"; }};"), &jvm);
        }
    }
}
