//! The runbook's Markdown read into a flat list of blocks (headings, task items, fenced code, prose, inline
//! code), each with its 1-based line, through pulldown-cmark (a CommonMark parser): no regex ever reads the
//! whole text. May import pulldown-cmark only; knows nothing of plans.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// One thing the runbook says, at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// `# Title` (level 1 to 6), its text without emphasis markers.
    Heading {
        level: u8,
        text: String,
        line: usize,
    },
    /// `- [ ] text` / `- [x] text`.
    Task {
        checked: bool,
        text: String,
        line: usize,
    },
    /// A fenced code block: the first word of its info string (lower case, `{.bash}` read as `bash`), its text
    /// (CR removed) and the line of its first content line.
    Code {
        lang: String,
        text: String,
        line: usize,
    },
    /// A paragraph or a list item's own text (task items excepted).
    Text { text: String, line: usize },
    /// An inline code span (`` `scripts/deploy.sh` ``).
    Inline { code: String, line: usize },
}

impl Block {
    pub fn line(&self) -> usize {
        match self {
            Block::Heading { line, .. }
            | Block::Task { line, .. }
            | Block::Code { line, .. }
            | Block::Text { line, .. }
            | Block::Inline { line, .. } => *line,
        }
    }
}

/// Text being gathered: a heading, an item, a paragraph outside items, or a code block.
enum Frame {
    Heading(u8, usize, String),
    Item(Option<bool>, usize, String),
    Para(usize, String),
    Code(String, usize, String),
}

/// The 1-based line of a byte offset.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines(starts)
    }
    fn of(&self, offset: usize) -> usize {
        match self.0.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

/// The first word of a fence's info string: `bash`, `sh title="x"` → `sh`, `{.bash .numberLines}` → `bash`.
pub fn fence_lang(info: &str) -> String {
    let word = info
        .trim()
        .trim_start_matches('{')
        .split(|c: char| c.is_whitespace() || c == ',' || c == '}' || c == '{')
        .find(|w| !w.is_empty())
        .unwrap_or("");
    word.trim_start_matches('.').to_ascii_lowercase()
}

/// Every block of `text`, in the order of its lines.
pub fn blocks(text: &str) -> Vec<Block> {
    let lines = Lines::new(text);
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let parser = Parser::new_ext(text, Options::ENABLE_TASKLISTS).into_offset_iter();
    for (event, range) in parser {
        let line = lines.of(range.start);
        match event {
            Event::Start(tag) => start(tag, line, text, range.start, &mut stack, &mut out),
            Event::End(tag) => end(tag, &mut stack, &mut out),
            Event::Text(t) => append(&mut stack, &t),
            Event::Code(c) => {
                append(&mut stack, &c);
                out.push(Block::Inline {
                    code: c.to_string(),
                    line,
                });
            }
            Event::SoftBreak | Event::HardBreak => append(&mut stack, " "),
            Event::TaskListMarker(checked) => {
                if let Some(Frame::Item(task, ..)) = stack.last_mut() {
                    *task = Some(checked);
                }
            }
            _ => {}
        }
    }
    // A heading comes before what its own line holds (its inline code).
    out.sort_by_key(|b| (b.line(), !matches!(b, Block::Heading { .. })));
    out
}

fn start(
    tag: Tag<'_>,
    line: usize,
    text: &str,
    offset: usize,
    stack: &mut Vec<Frame>,
    out: &mut Vec<Block>,
) {
    match tag {
        Tag::Heading { level, .. } => stack.push(Frame::Heading(level as u8, line, String::new())),
        Tag::Item => stack.push(Frame::Item(None, line, String::new())),
        Tag::Paragraph if !stack.iter().any(|f| matches!(f, Frame::Item(..))) => {
            stack.push(Frame::Para(line, String::new()));
        }
        Tag::CodeBlock(CodeBlockKind::Fenced(info)) => {
            // The content starts on the line after the fence (an empty block: that line all the same).
            let fence_end = text[offset..]
                .find('\n')
                .map_or(text.len(), |i| offset + i + 1);
            stack.push(Frame::Code(
                fence_lang(&info),
                lines_of(text, fence_end),
                String::new(),
            ));
        }
        Tag::CodeBlock(CodeBlockKind::Indented) => {
            // Indented code is often output or a tree: kept apart under a language no shell has.
            stack.push(Frame::Code("(indented)".into(), line, String::new()));
        }
        Tag::List(_) => flush_item_text(stack, out),
        _ => {}
    }
}

fn lines_of(text: &str, offset: usize) -> usize {
    Lines::new(text).of(offset.min(text.len()))
}

/// A nested list starts: the item's own text so far is emitted now, so the nested items do not join it.
fn flush_item_text(stack: &mut [Frame], out: &mut Vec<Block>) {
    if let Some(Frame::Item(task, line, text)) = stack.last_mut() {
        let t = text.trim().to_string();
        if !t.is_empty() {
            out.push(item_block(*task, t, *line));
        }
        text.clear();
        *task = None;
    }
}

fn item_block(task: Option<bool>, text: String, line: usize) -> Block {
    match task {
        Some(checked) => Block::Task {
            checked,
            text,
            line,
        },
        None => Block::Text { text, line },
    }
}

fn end(tag: TagEnd, stack: &mut Vec<Frame>, out: &mut Vec<Block>) {
    let closes = matches!(
        (&tag, stack.last()),
        (TagEnd::Heading(_), Some(Frame::Heading(..)))
            | (TagEnd::Item, Some(Frame::Item(..)))
            | (TagEnd::Paragraph, Some(Frame::Para(..)))
            | (TagEnd::CodeBlock, Some(Frame::Code(..)))
    );
    if !closes {
        return;
    }
    let Some(frame) = stack.pop() else { return };
    let block = match frame {
        Frame::Heading(level, line, text) => Block::Heading {
            level,
            text: text.trim().to_string(),
            line,
        },
        Frame::Item(task, line, text) => {
            let text = text.trim().to_string();
            if text.is_empty() {
                return;
            }
            item_block(task, text, line)
        }
        Frame::Para(line, text) => Block::Text {
            text: text.trim().to_string(),
            line,
        },
        Frame::Code(lang, line, text) => Block::Code {
            lang,
            text: text.replace('\r', ""),
            line,
        },
    };
    out.push(block);
}

fn append(stack: &mut [Frame], t: &str) {
    match stack.last_mut() {
        Some(
            Frame::Heading(_, _, text)
            | Frame::Item(_, _, text)
            | Frame::Para(_, text)
            | Frame::Code(_, _, text),
        ) => text.push_str(t),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(md: &str) -> Vec<(String, String, usize)> {
        blocks(md)
            .into_iter()
            .filter_map(|b| match b {
                Block::Code { lang, text, line } => Some((lang, text, line)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn info_strings_with_attributes_give_the_language() {
        assert_eq!(fence_lang("bash"), "bash");
        assert_eq!(fence_lang("sh title=\"deploy\""), "sh");
        assert_eq!(fence_lang("{.bash .numberLines}"), "bash");
        assert_eq!(fence_lang("Shell,ignore"), "shell");
        assert_eq!(fence_lang(""), "");
    }

    #[test]
    fn tilde_fences_and_indented_fences_in_lists() {
        let md = "# A\n\n~~~sh\nmake\n~~~\n\n1. Deploy:\n   ```bash {.x}\n   ./deploy.sh\n   ```\n";
        let c = codes(md);
        assert_eq!(c[0], ("sh".into(), "make\n".into(), 4));
        assert_eq!(c[1], ("bash".into(), "./deploy.sh\n".into(), 9));
    }

    #[test]
    fn empty_blocks_are_kept_empty() {
        let c = codes("```bash\n```\n");
        assert_eq!(c, vec![("bash".into(), String::new(), 2)]);
    }

    #[test]
    fn nested_lists_give_one_block_per_item() {
        let md = "## Checklist\n\n- [ ] parent\n  - [x] child\n  - plain child\n- [ ] last\n";
        let b = blocks(md);
        assert!(b.contains(&Block::Task {
            checked: false,
            text: "parent".into(),
            line: 3
        }));
        assert!(b.contains(&Block::Task {
            checked: true,
            text: "child".into(),
            line: 4
        }));
        assert!(b.contains(&Block::Text {
            text: "plain child".into(),
            line: 5
        }));
        assert!(b.contains(&Block::Task {
            checked: false,
            text: "last".into(),
            line: 6
        }));
    }

    #[test]
    fn crlf_lines_are_counted_and_cr_removed() {
        let md = "# T\r\n\r\n```sh\r\necho a\r\n```\r\n- [ ] x\r\n";
        let b = blocks(md);
        assert!(b.contains(&Block::Code {
            lang: "sh".into(),
            text: "echo a\n".into(),
            line: 4
        }));
        assert!(b.contains(&Block::Task {
            checked: false,
            text: "x".into(),
            line: 6
        }));
    }

    #[test]
    fn headings_lose_their_emphasis_and_inline_code_is_seen() {
        let b = blocks("### **Phase 1** `x.sh`\n");
        assert_eq!(
            b[0],
            Block::Heading {
                level: 3,
                text: "Phase 1 x.sh".into(),
                line: 1
            }
        );
        assert!(b.contains(&Block::Inline {
            code: "x.sh".into(),
            line: 1
        }));
    }
}
