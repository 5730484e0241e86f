//! The FHIRPath subset's parser: text to an [`Expr`] tree with the grammar's precedence, and the check that an
//! expression stays inside the subset the forms engine evaluates (`fhirpath_eval.rs`).
//!
//! SDC forms carry FHIRPath in `variable`, `calculatedExpression`, `enableWhenExpression` and `initialExpression`.
//! No Rust FHIRPath crate was small and complete enough for the core (docs/forms-engine.md "FHIRPath"), so the
//! engine evaluates a subset stated exactly in [`FUNCTIONS`] and [`Expr`]; a form using anything else is refused at
//! load with the linkId, the expression and what is outside the subset, never run differently.
//!
//! Expressions come from form files, so the parser never panics and is bounded: at most
//! [`MAX_EXPRESSION_CHARS`] characters and [`MAX_EXPRESSION_DEPTH`] levels of nesting.

use std::fmt;

/// Longest expression accepted; SDC expressions of real forms are a few hundred characters.
pub(crate) const MAX_EXPRESSION_CHARS: usize = 4096;
/// Deepest tree accepted (each parenthesis, argument, operator and `.` adds a level), so neither parsing nor
/// evaluating a hostile expression can overflow the stack.
pub(crate) const MAX_EXPRESSION_DEPTH: usize = 128;
/// What one level of nesting costs of [`MAX_EXPRESSION_DEPTH`] (16 levels of parentheses at most).
const NESTING_COST: usize = 8;

/// The functions of the subset: name, least and most arguments.
pub(crate) const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("where", 1, 1),
    ("select", 1, 1),
    ("repeat", 1, 1),
    ("exists", 0, 1),
    ("all", 1, 1),
    ("empty", 0, 0),
    ("first", 0, 0),
    ("last", 0, 0),
    ("tail", 0, 0),
    ("count", 0, 0),
    ("sum", 0, 0),
    ("iif", 2, 3),
    ("not", 0, 0),
    ("combine", 1, 1),
    ("union", 1, 1),
    ("distinct", 0, 0),
    ("descendants", 0, 0),
    ("children", 0, 0),
    ("today", 0, 0),
    ("now", 0, 0),
    ("round", 0, 1),
    ("power", 1, 1),
    ("sqrt", 0, 0),
    ("abs", 0, 0),
    ("floor", 0, 0),
    ("ceiling", 0, 0),
    ("toString", 0, 0),
    ("toInteger", 0, 0),
    ("toDecimal", 0, 0),
    ("length", 0, 0),
    ("startsWith", 1, 1),
    ("endsWith", 1, 1),
    ("contains", 1, 1),
    ("hasValue", 0, 0),
    ("answers", 0, 0),
    ("ordinal", 0, 0),
    ("weight", 0, 0),
];

/// Functions whose value depends on when they are evaluated: the core validates without a clock, so only
/// `initialExpression` (evaluated by the screen) may use them.
pub(crate) const CLOCK_FUNCTIONS: &[&str] = &["today", "now"];

/// A literal of the grammar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    /// `{}`.
    Empty,
    Bool(bool),
    Str(String),
    Int(i64),
    Dec(f64),
    Date(String),
    DateTime(String),
    Time(String),
}

/// Binary operators, by the spec's symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Equiv,
    Ne,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Lit(Literal),
    /// `$this`, `$index`, `$total`.
    This,
    Index,
    Total,
    /// `%name`: an environment variable or a form's `variable`.
    Env(String),
    /// `name` at the start of a path (on `$this`) or `target.name`.
    Member(Option<Box<Expr>>, String),
    /// `name(args)` at the start of a path (on `$this`) or `target.name(args)`.
    Call(Option<Box<Expr>>, String, Vec<Expr>),
    /// `target[index]`.
    Indexer(Box<Expr>, Box<Expr>),
    /// Unary minus (unary plus is dropped).
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Every `%name` the expression reads, in order, each once.
    pub(crate) fn env_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Env(n) = e {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        });
        out
    }

    /// Every function the expression calls, in order, each once.
    pub(crate) fn functions(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Call(_, n, _) = e {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        });
        out
    }

    fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Member(t, _) => t.iter().for_each(|t| t.walk(f)),
            Expr::Call(t, _, args) => {
                t.iter().for_each(|t| t.walk(f));
                args.iter().for_each(|a| a.walk(f));
            }
            Expr::Indexer(a, b) | Expr::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::Neg(a) => a.walk(f),
            _ => {}
        }
    }
}

/// Why an expression is refused: it does not parse, or it is outside the subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExprError(pub(crate) String);

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError(msg.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A backticked identifier: never a keyword.
    Quoted(String),
    Str(String),
    Num(String),
    Date(Literal),
    Env(String),
    Special(String),
    Sym(&'static str),
}

const SYMBOLS: &[&str] =
    &["<=", ">=", "!=", "!~", ".", "[", "]", "(", ")", "{", "}", ",", "+", "-", "*", "/", "&", "|", "<", ">", "=", "~"];

/// Parses an expression of the subset. Functions outside [`FUNCTIONS`], wrong argument counts, quantity literals,
/// `is`/`as` and anything the grammar does not know are errors naming what is outside.
pub(crate) fn parse(text: &str) -> Result<Expr, ExprError> {
    if text.chars().count() > MAX_EXPRESSION_CHARS {
        return err(format!("longer than {MAX_EXPRESSION_CHARS} characters"));
    }
    let toks = lex(text)?;
    let mut p = Parser { toks, at: 0, depth: 0 };
    let e = p.expr(0)?;
    match p.peek() {
        None => Ok(e),
        Some(t) => err(format!("unexpected {} after the end of the expression", describe(t))),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) | Tok::Quoted(s) => format!("'{s}'"),
        Tok::Str(_) => "string".into(),
        Tok::Num(n) => format!("number {n}"),
        Tok::Date(_) => "date/time literal".into(),
        Tok::Env(s) => format!("%{s}"),
        Tok::Special(s) => format!("${s}"),
        Tok::Sym(s) => format!("'{s}'"),
    }
}

fn lex(text: &str) -> Result<Vec<Tok>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '\'' || c == '`' {
            let (s, next) = quoted(&chars, i)?;
            out.push(if c == '\'' { Tok::Str(s) } else { Tok::Quoted(s) });
            i = next;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c == '%' || c == '$' {
            i += 1;
            let name = match chars.get(i) {
                Some('\'') | Some('`') if c == '%' => {
                    let (s, next) = quoted(&chars, i)?;
                    i = next;
                    s
                }
                _ => {
                    let start = i;
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '-') {
                        i += 1;
                    }
                    chars[start..i].iter().collect()
                }
            };
            if name.is_empty() {
                return err(format!("'{c}' without a name"));
            }
            out.push(if c == '%' { Tok::Env(name) } else { Tok::Special(name) });
        } else if c == '@' {
            let (lit, next) = date_literal(&chars, i + 1)?;
            out.push(Tok::Date(lit));
            i = next;
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            match SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
                Some(s) => {
                    out.push(Tok::Sym(s));
                    i += s.chars().count();
                }
                None => return err(format!("unexpected character '{c}'")),
            }
        }
    }
    Ok(out)
}

/// A `'…'` or `` `…` `` token from `at` (the quote): its text with escapes resolved, and the index after it.
fn quoted(chars: &[char], at: usize) -> Result<(String, usize), ExprError> {
    let quote = chars[at];
    let mut s = String::new();
    let mut i = at + 1;
    loop {
        match chars.get(i) {
            None => return err("unterminated string"),
            Some(c) if *c == quote => return Ok((s, i + 1)),
            Some('\\') => {
                let e = chars.get(i + 1).copied();
                i += 2;
                s.push(match e {
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('f') => '\u{c}',
                    Some(c @ ('\'' | '"' | '`' | '\\' | '/')) => c,
                    Some('u') => {
                        let hex: String = chars.get(i..i + 4).map(|h| h.iter().collect()).unwrap_or_default();
                        i += 4;
                        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                            Some(c) => c,
                            None => return err("bad \\u escape in a string"),
                        }
                    }
                    _ => return err("unknown escape in a string"),
                });
            }
            Some(c) => {
                s.push(*c);
                i += 1;
            }
        }
    }
}

/// `@2020-01-02`, `@2020-01-02T10:00:00.000+01:00`, `@T10:00`: the literal and the index after it.
fn date_literal(chars: &[char], start: usize) -> Result<(Literal, usize), ExprError> {
    let mut i = start;
    let mut seen_t = false;
    while let Some(&c) = chars.get(i) {
        let ok = c.is_ascii_digit()
            || matches!(c, '-' | ':' | '.' | 'Z')
            || (c == 'T' && !seen_t)
            || (c == '+' && seen_t && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if !ok {
            break;
        }
        seen_t |= c == 'T';
        i += 1;
    }
    let text: String = chars[start..i].iter().collect();
    let well_formed = |s: &str| !s.is_empty() && s.chars().next().is_some_and(|c| c.is_ascii_digit());
    let lit = if let Some(time) = text.strip_prefix('T') {
        if !well_formed(time) {
            return err("bad time literal");
        }
        Literal::Time(time.to_string())
    } else if let Some(date) = text.strip_suffix('T') {
        Literal::DateTime(date.to_string())
    } else if text.contains('T') {
        Literal::DateTime(text.clone())
    } else {
        Literal::Date(text.clone())
    };
    if !well_formed(&text.replace('T', "")) {
        return err("bad date/time literal");
    }
    Ok((lit, i))
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    depth: usize,
}

/// Binary operators from the loosest (level 0) to the tightest, as the FHIRPath grammar orders them.
const LEVELS: &[&[(&str, BinOp)]] = &[
    &[("implies", BinOp::Implies)],
    &[("or", BinOp::Or), ("xor", BinOp::Xor)],
    &[("and", BinOp::And)],
    &[("in", BinOp::In), ("contains", BinOp::Contains)],
    &[("=", BinOp::Eq), ("~", BinOp::Equiv), ("!=", BinOp::Ne), ("!~", BinOp::NotEquiv)],
    &[("<=", BinOp::Le), (">=", BinOp::Ge), ("<", BinOp::Lt), (">", BinOp::Gt)],
    &[("|", BinOp::Union)],
    &[("+", BinOp::Add), ("-", BinOp::Sub), ("&", BinOp::Concat)],
    &[("*", BinOp::Mul), ("/", BinOp::Div), ("div", BinOp::IntDiv), ("mod", BinOp::Mod)],
];

/// Words the grammar reserves: they are operators or literals, never a member name unless backticked.
const KEYWORDS: &[&str] = &["and", "or", "xor", "implies", "in", "contains", "div", "mod", "is", "as", "true", "false"];

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn eat(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, sym: &str) -> Result<(), ExprError> {
        if self.eat(sym) {
            Ok(())
        } else {
            match self.peek() {
                Some(t) => err(format!("expected '{sym}', found {}", describe(t))),
                None => err(format!("expected '{sym}' at the end of the expression")),
            }
        }
    }

    fn deeper(&mut self) -> Result<(), ExprError> {
        self.deeper_by(1)
    }

    /// A parenthesis, an argument list, an indexer or a prefix sign costs [`NESTING_COST`] levels: each is a dozen
    /// parser frames deep, where a `.` or an operator in a chain is one.
    fn nested(&mut self) -> Result<(), ExprError> {
        self.deeper_by(NESTING_COST)
    }

    fn deeper_by(&mut self, n: usize) -> Result<(), ExprError> {
        self.depth += n;
        if self.depth > MAX_EXPRESSION_DEPTH {
            return err(format!("nested deeper than {MAX_EXPRESSION_DEPTH} levels"));
        }
        Ok(())
    }

    /// The operator at the cursor if it belongs to `level`.
    fn operator(&self, level: usize) -> Option<BinOp> {
        let word = match self.peek()? {
            Tok::Sym(s) => *s,
            Tok::Ident(s) => s.as_str(),
            _ => return None,
        };
        LEVELS[level].iter().find(|(w, _)| *w == word).map(|(_, op)| *op)
    }

    fn expr(&mut self, level: usize) -> Result<Expr, ExprError> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let depth = self.depth;
        let mut left = self.expr(level + 1)?;
        loop {
            if level == 6 && matches!(self.peek(), Some(Tok::Ident(w)) if w == "is" || w == "as") {
                return err("the 'is' and 'as' operators are outside the subset");
            }
            let Some(op) = self.operator(level) else { break };
            self.at += 1;
            self.deeper()?;
            let right = self.expr(level + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        self.depth = depth;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.eat("-") {
            self.nested()?;
            let e = self.unary()?;
            self.depth -= NESTING_COST;
            return Ok(Expr::Neg(Box::new(e)));
        }
        if self.eat("+") {
            self.nested()?;
            let e = self.unary();
            self.depth -= NESTING_COST;
            return e;
        }
        let depth = self.depth;
        let mut e = self.term()?;
        loop {
            if self.eat(".") {
                self.deeper()?;
                let (name, call) = self.invocation()?;
                e = match call {
                    Some(args) => Expr::Call(Some(Box::new(e)), name, args),
                    None => Expr::Member(Some(Box::new(e)), name),
                };
            } else if self.eat("[") {
                self.nested()?;
                let index = self.expr(0)?;
                self.expect("]")?;
                e = Expr::Indexer(Box::new(e), Box::new(index));
            } else {
                self.depth = depth;
                return Ok(e);
            }
        }
    }

    /// A name after `.` or at the start of a path, with its arguments when it is a call.
    fn invocation(&mut self) -> Result<(String, Option<Vec<Expr>>), ExprError> {
        let name = match self.next() {
            Some(Tok::Ident(s)) if !KEYWORDS.contains(&s.as_str()) || self.peek() == Some(&Tok::Sym("(")) => s,
            Some(Tok::Quoted(s)) => return Ok((s, None)),
            Some(t) => return err(format!("expected a name, found {}", describe(&t))),
            None => return err("expected a name at the end of the expression"),
        };
        if !self.eat("(") {
            return Ok((name, None));
        }
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                self.nested()?;
                args.push(self.expr(0)?);
                self.depth -= NESTING_COST;
                if self.eat(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        match FUNCTIONS.iter().find(|(n, _, _)| *n == name) {
            None => return err(format!("the function {name}() is outside the subset")),
            Some((_, least, most)) if args.len() < *least || args.len() > *most => {
                return err(format!("{name}() takes {least} to {most} arguments, not {}", args.len()))
            }
            Some(_) => {}
        }
        Ok((name, Some(args)))
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        match self.peek().cloned() {
            Some(Tok::Sym("(")) => {
                self.at += 1;
                self.nested()?;
                let e = self.expr(0)?;
                self.depth -= NESTING_COST;
                self.expect(")")?;
                Ok(e)
            }
            Some(Tok::Sym("{")) => {
                self.at += 1;
                self.expect("}")?;
                Ok(Expr::Lit(Literal::Empty))
            }
            Some(Tok::Str(s)) => {
                self.at += 1;
                Ok(Expr::Lit(Literal::Str(s)))
            }
            Some(Tok::Num(n)) => {
                self.at += 1;
                let lit = if n.contains('.') {
                    n.parse().map(Literal::Dec).map_err(|_| ExprError(format!("bad number {n}")))?
                } else {
                    n.parse().map(Literal::Int).map_err(|_| ExprError(format!("integer {n} is too large")))?
                };
                if matches!(self.peek(), Some(Tok::Str(_))) {
                    return err("quantity literals are outside the subset");
                }
                Ok(Expr::Lit(lit))
            }
            Some(Tok::Date(lit)) => {
                self.at += 1;
                Ok(Expr::Lit(lit))
            }
            Some(Tok::Env(name)) => {
                self.at += 1;
                Ok(Expr::Env(name))
            }
            Some(Tok::Special(name)) => {
                self.at += 1;
                match name.as_str() {
                    "this" => Ok(Expr::This),
                    "index" => Ok(Expr::Index),
                    "total" => Ok(Expr::Total),
                    _ => err(format!("${name} is not a FHIRPath variable")),
                }
            }
            Some(Tok::Ident(w)) if w == "true" || w == "false" => {
                self.at += 1;
                Ok(Expr::Lit(Literal::Bool(w == "true")))
            }
            Some(Tok::Ident(_)) | Some(Tok::Quoted(_)) => {
                let (name, call) = self.invocation()?;
                Ok(match call {
                    Some(args) => Expr::Call(None, name, args),
                    None => Expr::Member(None, name),
                })
            }
            Some(t) => err(format!("unexpected {}", describe(&t))),
            None => err("the expression ends too early"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_the_grammar() {
        let e = parse("1 + 2 * 3 = 7 and true").expect("parses");
        let Expr::Binary(BinOp::And, left, _) = e else { panic!("and is loosest: {e:?}") };
        let Expr::Binary(BinOp::Eq, sum, _) = *left else { panic!("= is looser than +") };
        assert!(matches!(*sum, Expr::Binary(BinOp::Add, _, _)), "+ is looser than *");
        let e = parse("-2.abs()").expect("parses");
        assert!(matches!(e, Expr::Neg(_)), "invocation binds tighter than unary minus");
    }

    #[test]
    fn outside_the_subset_is_named() {
        let e = parse("item.resolve()").expect_err("resolve is not in the subset");
        assert_eq!(e.0, "the function resolve() is outside the subset");
        assert!(parse("x is Quantity").expect_err("is").0.contains("'is'"));
        assert!(parse("5 'mg'").expect_err("quantity").0.contains("quantity"));
        assert!(parse("where()").expect_err("arity").0.contains("takes 1 to 1"));
    }

    #[test]
    fn hostile_input_is_refused_not_crashed() {
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert!(parse(&deep).expect_err("too deep").0.contains("nested deeper"));
        let minus = "-".repeat(500) + "1";
        assert!(parse(&minus).is_err());
        assert!(parse(&"a".repeat(MAX_EXPRESSION_CHARS + 1)).is_err());
        for s in ["'unterminated", "@", "%", "a.", "a[", "f(", "'\\u12'", "@T", "/*", "iif(", ")"] {
            let _ = parse(s);
        }
    }

    #[test]
    fn literals_and_names() {
        assert_eq!(parse("'a\\'b\\u0041'"), Ok(Expr::Lit(Literal::Str("a'bA".into()))));
        assert_eq!(parse("@2020-01-02T10:00"), Ok(Expr::Lit(Literal::DateTime("2020-01-02T10:00".into()))));
        assert_eq!(parse("@T10:00"), Ok(Expr::Lit(Literal::Time("10:00".into()))));
        assert_eq!(parse("%'my var'"), Ok(Expr::Env("my var".into())));
        assert_eq!(parse("`div`"), Ok(Expr::Member(None, "div".into())));
        assert_eq!(parse("%a + %b").expect("parses").env_names(), vec!["a".to_string(), "b".to_string()]);
    }
}
