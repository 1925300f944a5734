"""`summary()` in Keras 3's table format (76 characters wide, as Keras prints off a terminal)."""

import textwrap

_WIDTHS = (31, 22, 13)  # cell contents; each cell has one space of padding on either side


def _human_bytes(n):
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _row(cells):
    wrapped = [textwrap.wrap(c, w, break_long_words=True) or [""] for c, w in zip(cells, _WIDTHS)]
    height = max(len(w) for w in wrapped)
    lines = []
    for i in range(height):
        parts = []
        for j, (w, width) in enumerate(zip(wrapped, _WIDTHS)):
            text = w[i] if i < len(w) else ""
            parts.append(f" {text:>{width}} " if j == 2 else f" {text:<{width}} ")
        lines.append("│" + "│".join(parts) + "│")
    return lines


def _rule(left, mid, right, fill):
    return left + mid.join(fill * (w + 2) for w in _WIDTHS) + right


def render(model):
    """The summary text of a Sequential model."""
    out = [f'Model: "{model.name}"', _rule("┏", "┳", "┓", "━")]
    out.append("┃" + "┃".join([f" {'Layer (type)':<{_WIDTHS[0]}} ", f" {'Output Shape':<{_WIDTHS[1]}} ", f" {'Param #':>{_WIDTHS[2]}} "]) + "┃")
    out.append(_rule("┡", "╇", "┩", "━"))
    rows = []
    for layer, shape in model._layer_shapes():
        if model.built:
            cells = (f"{layer.name} ({type(layer).__name__})", str(shape), f"{layer.count_params():,}")
        else:
            cells = (f"{layer.name} ({type(layer).__name__})", "?", "0 (unbuilt)")
        rows.append(_row(cells))
    for i, r in enumerate(rows):
        out.extend(r)
        out.append(_rule("├", "┼", "┤", "─") if i + 1 < len(rows) else _rule("└", "┴", "┘", "─"))
    if not rows:
        out.append(_rule("└", "┴", "┘", "─"))
    trainable = sum(w.size for w in model.trainable_weights)
    non_trainable = sum(w.size for w in model.non_trainable_weights)
    optimizer = model.optimizer.variable_count() if getattr(model, "optimizer", None) is not None else 0
    total = trainable + non_trainable + optimizer
    out.append(f" Total params: {total:,} ({_human_bytes(4 * total)})")
    out.append(f" Trainable params: {trainable:,} ({_human_bytes(4 * trainable)})")
    out.append(f" Non-trainable params: {non_trainable:,} ({_human_bytes(4 * non_trainable)})")
    if optimizer:
        out.append(f" Optimizer params: {optimizer:,} ({_human_bytes(4 * optimizer)})")
    return "\n".join(out)
