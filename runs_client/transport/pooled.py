"""Large Arrow bodies joined into pyarrow's pooled memory.

A columnar page is several MB. Joined into ``bytes`` it lands in memory the
C allocator maps afresh and the OS faults in page by page on every page (a
fifth of a bulk read's CPU went to those faults); pyarrow's pool keeps the
memory it frees and hands it out again. The buffer is the page's Arrow
stream, read in place (zero copy) by ``history.arrow_pages``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ARROW_STREAM_TYPE", "POOLED_MIN_BYTES", "pooled_join"]

ARROW_STREAM_TYPE = "application/vnd.apache.arrow.stream"
# Smaller bodies are joined as usual: their memory is reused anyway.
POOLED_MIN_BYTES = 1024 * 1024


def pooled_join(content_type: str | None, chunks: list[bytes], size: int) -> Any:
    """``chunks`` (``size`` bytes in all) as one pyarrow buffer when they are
    a large Arrow stream and pyarrow is installed; else None."""
    if size < POOLED_MIN_BYTES or content_type is None:
        return None
    if content_type.split(";")[0].strip().lower() != ARROW_STREAM_TYPE:
        return None
    try:
        import pyarrow as pa
    except ImportError:
        return None
    buffer = pa.allocate_buffer(size)
    view = memoryview(buffer).cast("B")
    at = 0
    for chunk in chunks:
        view[at : at + len(chunk)] = chunk
        at += len(chunk)
    return buffer
