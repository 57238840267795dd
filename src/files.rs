//! Finding the traces a command reads and writing the traces it produces,
//! without ever losing a user's file.
//!
//! Reading: paths named on the command line are read as given (`-` is
//! standard input, and a FIFO named there is read, as a shell's `<(...)`
//! is); a directory is walked for `*.jsonl` files. The walk follows symbolic
//! links but reads every directory and every file once, recognised by device
//! and inode, so a link loop ends and a file reached twice counts once. Only
//! regular files found by the walk are opened: a FIFO, socket or device named
//! `*.jsonl` inside a directory is reported as skipped, and an unreadable
//! subdirectory is reported by its own path while the rest of the walk goes
//! on.
//!
//! Writing: [`plan_outputs`] decides every output path before anything is
//! opened for writing and refuses an output that is the same file as an
//! input (by device and inode, so symlinks, hard links and `x/../x` are
//! caught) or that two inputs would share. [`Output`] writes to a temporary
//! file beside the target and renames it into place only when asked to, so a
//! run that stops on bad input leaves nothing that `check` would accept.

use std::collections::HashSet;
use std::fs::{self, File, Metadata};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// A file's identity: its device and inode numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The identity of the file `path` names (symlinks followed), if it exists.
    pub fn of_path(path: &Path) -> Option<FileId> {
        fs::metadata(path).ok().map(|m| FileId::of(&m))
    }
}

/// One input: standard input or a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file, with its identity when it could be read.
    File {
        /// The path as found.
        path: PathBuf,
        /// Its device and inode.
        id: Option<FileId>,
    },
}

impl Input {
    /// The name used in reports.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::File { path, .. } => path.display().to_string(),
        }
    }

    /// Opens the input for reading.
    pub fn open(&self) -> io::Result<Box<dyn BufRead + Send>> {
        Ok(match self {
            Input::Stdin => Box::new(BufReader::new(io::stdin())),
            Input::File { path, .. } => Box::new(BufReader::new(File::open(path)?)),
        })
    }

    fn id(&self) -> Option<FileId> {
        match self {
            Input::Stdin => None,
            Input::File { id, .. } => *id,
        }
    }
}

/// What a walk found: the inputs in order, what it skipped and what it could
/// not read.
#[derive(Debug, Default)]
pub struct Walk {
    /// The inputs, in command-line order, each directory's files sorted.
    pub inputs: Vec<Input>,
    /// Paths the walk passed over, each with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Paths that could not be read, each with the error: the command ends
    /// with exit 2 after judging the rest.
    pub errors: Vec<(PathBuf, String)>,
    dirs: HashSet<FileId>,
    files: HashSet<FileId>,
}

/// Expands the paths named on the command line into inputs (see the module
/// documentation for the rules).
pub fn expand(paths: &[PathBuf]) -> Walk {
    let mut walk = Walk::default();
    for path in paths {
        walk.named(path);
    }
    walk
}

impl Walk {
    fn named(&mut self, path: &Path) {
        if path.as_os_str() == "-" {
            self.inputs.push(Input::Stdin);
            return;
        }
        match fs::metadata(path) {
            Err(e) => self.errors.push((path.to_path_buf(), describe_io(&e))),
            Ok(meta) if meta.is_dir() => {
                // Entries are visited in sorted order, so the files come out
                // sorted by path.
                let mut found = Vec::new();
                self.directory(path, &meta, &mut found);
                self.inputs.extend(found);
            }
            Ok(meta) => {
                if self.files.insert(FileId::of(&meta)) {
                    self.inputs.push(Input::File {
                        path: path.to_path_buf(),
                        id: Some(FileId::of(&meta)),
                    });
                }
            }
        }
    }

    /// Walks `dir` (already known to be a directory), collecting its
    /// `*.jsonl` files into `found`.
    fn directory(&mut self, dir: &Path, meta: &Metadata, found: &mut Vec<Input>) {
        if !self.dirs.insert(FileId::of(meta)) {
            return; // Reached again through a link: already walked.
        }
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return self.errors.push((dir.to_path_buf(), describe_io(&e))),
        };
        let mut paths = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => paths.push(entry.path()),
                Err(e) => return self.errors.push((dir.to_path_buf(), describe_io(&e))),
            }
        }
        paths.sort();
        for path in paths {
            self.entry(path, found);
        }
    }

    fn entry(&mut self, path: PathBuf, found: &mut Vec<Input>) {
        let is_trace = path.extension().is_some_and(|e| e == "jsonl");
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if is_trace => return self.skipped.push((path, describe_io(&e))),
            Err(_) => return, // A dangling link that is not a trace: nothing to say.
        };
        if meta.is_dir() {
            return self.directory(&path, &meta, found);
        }
        if !is_trace {
            return;
        }
        if !meta.is_file() {
            let what = kind_of(&meta);
            return self.skipped.push((path, format!("{what}, not a regular file")));
        }
        if self.files.insert(FileId::of(&meta)) {
            found.push(Input::File {
                path,
                id: Some(FileId::of(&meta)),
            });
        }
    }
}

fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Why outputs could not be planned. Nothing has been written.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An output is the same file as an input.
    #[error("the output {output} is the same file as the input {input}: refusing to overwrite an input (write the trace elsewhere)")]
    OverwritesInput {
        /// The output path.
        output: PathBuf,
        /// The input it is.
        input: String,
    },
    /// Two inputs would be written to one output.
    #[error(
        "the inputs {first} and {second} would both be written to {output}: give them different names or separate runs"
    )]
    SharedOutput {
        /// The output path.
        output: PathBuf,
        /// The first input.
        first: String,
        /// The second input.
        second: String,
    },
    /// Several inputs and an output that is not a directory.
    #[error("{output} is not a directory: with several inputs, -o names a directory to hold one trace each")]
    NotADirectory {
        /// The output path.
        output: PathBuf,
    },
}

/// Where each input's trace goes: `output` itself for one input (unless it
/// is a directory), else the input's own path under the directory `output`.
/// Refuses, before anything is written, an output that is the same file as
/// any input and an output two inputs would share.
pub fn plan_outputs(inputs: &[Input], output: &Path) -> Result<Vec<PathBuf>, PlanError> {
    let into_dir = inputs.len() > 1 || output.is_dir();
    if into_dir && output.exists() && !output.is_dir() {
        return Err(PlanError::NotADirectory {
            output: output.to_path_buf(),
        });
    }
    let paths: Vec<PathBuf> = inputs
        .iter()
        .map(|input| {
            if into_dir {
                output.join(relative(input))
            } else {
                output.to_path_buf()
            }
        })
        .collect();
    for (i, path) in paths.iter().enumerate() {
        if let Some(j) = paths[..i].iter().position(|p| p == path) {
            return Err(PlanError::SharedOutput {
                output: path.clone(),
                first: inputs[j].name(),
                second: inputs[i].name(),
            });
        }
        let Some(id) = FileId::of_path(path) else { continue };
        if let Some(input) = inputs.iter().find(|input| input.id() == Some(id)) {
            return Err(PlanError::OverwritesInput {
                output: path.clone(),
                input: input.name(),
            });
        }
    }
    Ok(paths)
}

/// The input's own path, relative: its normal components only, so inputs of
/// the same name in different directories stay apart.
fn relative(input: &Input) -> PathBuf {
    match input {
        Input::Stdin => PathBuf::from("stdin.jsonl"),
        Input::File { path, .. } => path
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect(),
    }
}

/// An output trace being written: to a temporary file in the target's
/// directory, renamed into place by [`Output::commit`]. Dropped without a
/// commit, the temporary file is removed and the target is untouched.
///
/// An existing target that is not a regular file (`/dev/null`, a FIFO) is
/// written directly: renaming over it would replace the device.
pub struct Output {
    target: PathBuf,
    sink: Sink,
}

enum Sink {
    Temporary(BufWriter<tempfile::NamedTempFile>),
    Direct(BufWriter<File>),
}

impl Output {
    /// Starts writing the trace that will become `target`, creating its
    /// directory if needed.
    pub fn create(target: &Path) -> io::Result<Output> {
        if let Ok(meta) = fs::metadata(target) {
            if !meta.is_file() && !meta.is_dir() {
                let file = fs::OpenOptions::new().write(true).open(target)?;
                return Ok(Output {
                    target: target.to_path_buf(),
                    sink: Sink::Direct(BufWriter::new(file)),
                });
            }
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::create_dir_all(dir)?;
        let temp = tempfile::Builder::new()
            .prefix(".mmoracle-")
            .suffix(".tmp")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .tempfile_in(dir)?;
        Ok(Output {
            target: target.to_path_buf(),
            sink: Sink::Temporary(BufWriter::new(temp)),
        })
    }

    /// The path the trace will have.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes the trace and renames it into place.
    pub fn commit(self) -> io::Result<()> {
        match self.sink {
            Sink::Direct(mut w) => w.flush(),
            Sink::Temporary(w) => {
                let temp = w.into_inner().map_err(|e| e.into_error())?;
                temp.as_file().sync_all()?;
                temp.persist(&self.target).map_err(|e| e.error)?;
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Temporary(w) => w.write(buf),
            Sink::Direct(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Temporary(w) => w.flush(),
            Sink::Direct(w) => w.flush(),
        }
    }
}
