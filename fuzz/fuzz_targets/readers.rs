//! fixpoint's readers of what other programs wrote, over arbitrary input: the cooldown marker
//! file, a status string read back from a store, a `PgBus` topic and its channel, and the
//! `/proc` files a diagnosis reads (which change, or vanish, while they are read). The
//! property: a value or a typed refusal, never a panic, and never an active cooldown from a
//! marker that is not whole.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use fixpoint::Lifecycle;
use fixpoint::uptime::CooldownFile;
use libfuzzer_sys::fuzz_target;

/// The tests' job lifecycle, whose stored statuses are read back.
#[path = "../../tests/common/job.rs"]
mod job;
use job::Job;

/// The marker this process fuzzes, and its first and last lines, learned from a marker the
/// library wrote itself.
struct Marker {
    file: CooldownFile,
    path: PathBuf,
    magic: String,
    end: String,
}

fn marker() -> &'static Marker {
    static MARKER: OnceLock<Marker> = OnceLock::new();
    MARKER.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("fixpoint-fuzz-marker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("queue.cooldown");
        let file = CooldownFile::open(&path).unwrap();
        file.start(Duration::from_secs(60)).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 4, "a marker is four lines: {written:?}");
        Marker {
            magic: lines[0].to_owned(),
            end: lines[3].to_owned(),
            file,
            path,
        }
    })
}

/// The marker the reader takes for whole: its magic line, the end and the length in
/// milliseconds, its end line, each ended by a newline. Returns the length.
fn whole_marker(text: &str, marker: &Marker) -> Option<u64> {
    let body = text.strip_suffix('\n')?;
    let lines: Vec<&str> = body.lines().collect();
    let [magic, until, length, end] = lines[..] else {
        return None;
    };
    let _: u64 = until.parse().ok()?;
    (magic == marker.magic && end == marker.end).then_some(())?;
    length.parse().ok()
}

fn cooldown(data: &[u8]) {
    let marker = marker();
    std::fs::write(&marker.path, data).unwrap();
    let left = marker.file.remaining();
    let text = std::str::from_utf8(data).ok();
    match (left, text.and_then(|text| whole_marker(text, marker))) {
        (None, _) => {}
        (Some(left), Some(length)) => assert!(
            left <= Duration::from_millis(length),
            "a cooldown of {left:?} from a marker of length {length} ms: {text:?}"
        ),
        (Some(left), None) => panic!("an active cooldown ({left:?}) from garbage: {data:?}"),
    }
}

fn status(text: &str) {
    match Job::parse_state(text) {
        Ok(state) => assert_eq!(state.name(), text, "read {text:?} as another state"),
        Err(error) => {
            let _ = error.to_string(); // says which name it did not know, without panicking
        }
    }
}

fn topic(topic: &str) {
    let channel = fixpoint::bus::channel_name(topic);
    assert!(
        !channel.is_empty() && channel.len() <= 63 && !channel.contains('\0'),
        "{topic:?} named channel {channel:?}"
    );
    assert_eq!(
        fixpoint::bus::channel_name(topic),
        channel,
        "not a function of the topic"
    );
    let own = !topic.is_empty()
        && topic.len() <= 63
        && !topic.contains('\0')
        && !topic.starts_with(fixpoint::bus::HASHED_CHANNEL_PREFIX);
    assert_eq!(channel == topic, own, "{topic:?} -> {channel:?}");
    let quoted = fixpoint_core::__fuzzing::quoted_channel(&channel);
    let inner = quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("a quoted identifier");
    assert!(
        !inner.replace("\"\"", "").contains('"'),
        "a lone quote ends the identifier early: {quoted}"
    );
    assert_eq!(
        inner.replace("\"\"", "\""),
        channel,
        "{quoted} names another channel"
    );
}

fn proc_files(data: &[u8]) {
    let line = fixpoint_core::__fuzzing::command_line(data);
    assert!(!line.contains('\0'), "{line:?}");
    if let Ok(text) = std::str::from_utf8(data)
        && let Some((_pid, name, _state)) = fixpoint_core::__fuzzing::proc_stat(text)
    {
        let (open, close) = (text.find('(').unwrap(), text.rfind(')').unwrap());
        assert_eq!(name, text[open + 1..close], "the name runs to the last `)`");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = std::str::from_utf8(rest);
    match which % 4 {
        0 => cooldown(rest),
        1 => {
            if let Ok(text) = text {
                status(text);
            }
        }
        2 => {
            if let Ok(text) = text {
                topic(text);
            }
        }
        _ => proc_files(rest),
    }
});
