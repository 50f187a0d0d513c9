//! How many bytes each stream's files take in the data directory, for `/metrics`
//! (`docs/metrics.md`): read from the file system when asked (a scrape), never kept up to date
//! by the writes.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

/// The size of the files under `DATA/streams/<stream-id>/` (segments and their indexes), by
/// stream id. What cannot be read, such as the files of a stream being deleted meanwhile, is
/// left out.
pub fn stream_disk_bytes(data_dir: &Path) -> HashMap<u64, u64> {
    let mut usage = HashMap::new();
    for stream in entries(&data_dir.join("streams")) {
        let Some(stream_id) = stream.file_name().to_str().and_then(|name| name.parse::<u64>().ok()) else {
            continue;
        };
        let bytes = entries(&stream.path())
            .flat_map(|shard| entries(&shard.path()))
            .filter_map(|file| file.metadata().ok())
            .filter(fs::Metadata::is_file)
            .map(|metadata| metadata.len())
            .sum();
        usage.insert(stream_id, bytes);
    }
    usage
}

/// The entries of a directory; none if it cannot be read.
fn entries(dir: &Path) -> impl Iterator<Item = fs::DirEntry> {
    fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_each_streams_files() {
        let dir = tempfile::tempdir().unwrap();
        let shard = |stream: &str, shard: &str| {
            let path = dir.path().join("streams").join(stream).join(shard);
            fs::create_dir_all(&path).unwrap();
            path
        };
        fs::write(shard("7", "0").join("00000000000000000000.log"), [0; 100]).unwrap();
        fs::write(shard("7", "0").join("00000000000000000000.idx"), [0; 20]).unwrap();
        fs::write(shard("7", "1").join("00000000000000000000.log"), [0; 5]).unwrap();
        shard("8", "0");
        shard("not-a-stream", "0");
        assert_eq!(stream_disk_bytes(dir.path()), HashMap::from([(7, 125), (8, 0)]));
        assert!(stream_disk_bytes(&dir.path().join("missing")).is_empty());
    }
}
