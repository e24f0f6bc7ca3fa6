//! The loaded tools, bounded in count and bytes, least recently used first
//! out.

use crate::tool::Tool;
use std::collections::HashMap;

/// Loaded tools by content hash, bounded in count and component bytes; the
/// least recently used goes first. Calls in flight keep their own handle, so
/// dropping a tool here never disturbs them.
pub(super) struct LoadedTools {
    entries: HashMap<String, LoadedEntry>,
    clock: u64,
    bytes: usize,
    max_count: usize,
    max_bytes: usize,
}

struct LoadedEntry {
    tool: Tool,
    bytes: usize,
    last_used: u64,
}

impl LoadedTools {
    pub(super) fn new(max_count: usize, max_bytes: usize) -> Self {
        LoadedTools {
            entries: HashMap::new(),
            clock: 0,
            bytes: 0,
            max_count: max_count.max(1),
            max_bytes,
        }
    }

    /// How many tools are loaded.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn get(&mut self, sha256: &str) -> Option<Tool> {
        self.clock += 1;
        let entry = self.entries.get_mut(sha256)?;
        entry.last_used = self.clock;
        Some(entry.tool.clone())
    }

    /// Keeps `tool` (or the one another load of the same bytes kept first)
    /// and returns it, dropping the least recently used beyond the bounds.
    pub(super) fn insert(&mut self, sha256: String, tool: Tool, bytes: usize) -> Tool {
        if let Some(kept) = self.get(&sha256) {
            return kept;
        }
        self.clock += 1;
        self.bytes += bytes;
        self.entries.insert(
            sha256,
            LoadedEntry {
                tool: tool.clone(),
                bytes,
                last_used: self.clock,
            },
        );
        // The newest entry stays even if it alone is over the byte bound.
        while self.entries.len() > 1
            && (self.entries.len() > self.max_count || self.bytes > self.max_bytes)
        {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            let evicted = self.entries.remove(&oldest).expect("present");
            self.bytes -= evicted.bytes;
        }
        tool
    }
}
