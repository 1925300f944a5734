"""Zip containers (`.ferronet` and `.keras`), read defensively: an entry is only decompressed after
its name, its declared size and its compression ratio have been checked, and decompression stops
at the declared size. Nothing is ever extracted to disk."""

import io
import zipfile

from ferronet.errors import FileFormatError

# Limits for files from strangers. Weights of a model that trains on a CPU fit well under these;
# anything bigger is refused before it is read.
MAX_MEMBER_BYTES = 4 << 30          # one entry, uncompressed
MAX_TOTAL_BYTES = 8 << 30           # all entries together
MAX_JSON_BYTES = 16 << 20           # config.json and friends
MAX_COMPRESSION_RATIO = 200         # zip bombs compress by factors of thousands
MAX_MEMBERS = 64


def _fail(path, message):
    raise FileFormatError(f"{path}: {message}")


class ZipReader:
    """The checked table of contents of a zip file, and bounded reads of its entries.

    Args:
        path: the file (or a binary file object).
        allowed: the entry names this format may contain; any other entry is an error.
        required: the names that must be present.
    """

    def __init__(self, path, allowed, required):
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile as e:
            _fail(path, f"expected a zip archive, got a file that is not one ({e})")
        except (EOFError, OSError, ValueError, NotImplementedError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            _fail(path, f"expected a readable zip archive, got: {e}")
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            _fail(path, f"expected at most {MAX_MEMBERS} entries, got {len(infos)}")
        self.members = {}
        total = 0
        for info in infos:
            name = info.filename
            if name.startswith(("/", "\\")) or ":" in name or any(part == ".." for part in name.replace("\\", "/").split("/")):
                _fail(path, f"expected relative entry names, got the unsafe entry {name!r}")
            if name in self.members:
                _fail(path, f"expected each entry once, got {name!r} twice")
            if name not in allowed:
                _fail(path, f"expected only the entries {sorted(allowed)}, got {name!r}")
            if info.flag_bits & 0x1:
                _fail(path, f"expected unencrypted entries, got an encrypted {name!r}")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                _fail(path, f"expected stored or deflated entries, got compression method {info.compress_type} for {name!r}")
            limit = MAX_JSON_BYTES if name.endswith(".json") else MAX_MEMBER_BYTES
            if info.file_size > limit:
                _fail(path, f"expected {name!r} to be at most {limit} bytes, got a declared size of {info.file_size}")
            if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
                _fail(path, f"expected a stored entry's sizes to agree, got {info.compress_size} and {info.file_size} for {name!r}")
            if info.file_size > 1024 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                _fail(path, f"expected a compression ratio of at most {MAX_COMPRESSION_RATIO}, got {info.file_size} bytes from {info.compress_size} for {name!r} (a zip bomb?)")
            total += info.file_size
            self.members[name] = info
        if total > MAX_TOTAL_BYTES:
            _fail(path, f"expected at most {MAX_TOTAL_BYTES} bytes in all, got {total}")
        missing = sorted(set(required) - set(self.members))
        if missing:
            _fail(path, f"expected the entries {sorted(required)}, missing {missing}")

    def read(self, name, limit=None):
        """The bytes of entry `name`, never more than its declared size (or `limit`)."""
        info = self.members[name]
        if limit is not None and info.file_size > limit:
            _fail(self.path, f"expected {name!r} to be at most {limit} bytes for this model, got {info.file_size}")
        try:
            with self._zip.open(info) as f:
                data = f.read(info.file_size + 1)  # one byte more reveals a lying header
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as e:
            _fail(self.path, f"expected a readable entry {name!r}, got: {e}")
        except Exception as e:  # zlib.error and friends: corrupt compressed data
            _fail(self.path, f"expected a readable entry {name!r}, got {type(e).__name__}: {e}")
        if len(data) != info.file_size:
            _fail(self.path, f"expected {info.file_size} bytes in {name!r}, got {len(data)}")
        return data

    def close(self):
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_zip(entries):
    """The bytes of a zip holding `entries` (name, bytes) in order, uncompressed as Keras writes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return buffer.getvalue()
