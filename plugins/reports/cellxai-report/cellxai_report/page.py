"""The HTML page: sections of paragraphs, tables and embedded figures, one self-contained file.

No template engine: a ``string.Template`` skeleton and ``html.escape`` on every value that
comes from the run (ids, metadata, config). Figures are embedded as PNG data URIs so that
the report opens offline and can be mailed as one file. No JavaScript.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from dataclasses import dataclass, field
from string import Template
from typing import Any, Callable, Iterable, Sequence

log = logging.getLogger("cellxai")

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa;line-height:1.45}
header{background:#23395d;color:#fff;padding:18px 32px}
header h1{margin:0 0 4px;font-size:1.6em}
header p{margin:2px 0;opacity:.9}
nav{background:#fff;border-bottom:1px solid #ddd;padding:8px 32px;position:sticky;top:0;z-index:2}
nav a{margin-right:16px;color:#23395d;text-decoration:none;font-size:.92em}
main{padding:8px 32px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 22px;margin:18px 0}
h2{color:#23395d;margin:6px 0 10px;font-size:1.3em}
h3{margin:16px 0 6px;font-size:1.1em}
figure{margin:10px 0;display:inline-block;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.86em;color:#555;max-width:900px}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f0f3f8}
td.l,th.l{text-align:left}
.note{color:#8a6d3b;background:#fcf8e3;border:1px solid #faebcc;padding:6px 10px;border-radius:4px;font-size:.9em}
.headline{font-size:1.05em;background:#eef4fb;border-left:4px solid #23395d;padding:8px 12px}
.explain{font-size:1.02em;background:#f6fbf3;border-left:4px solid #5a9e3a;padding:8px 12px}
.card{border-top:6px solid #999;padding-top:4px;margin-top:22px}
.cols{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.cols>div{flex:1 1 420px;min-width:0}
.swatch{display:inline-block;width:14px;height:14px;border-radius:3px;margin-right:6px;vertical-align:-2px}
pre{background:#f5f5f5;padding:8px;overflow:auto;font-size:.82em;max-height:420px}
footer{color:#888;font-size:.8em;padding:0 32px 20px}
"""

PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>$title</title>
<style>$css</style>
</head>
<body>
<header><h1>$title</h1>$subtitle</header>
<nav>$nav</nav>
<main>
$body
</main>
<footer>$footer</footer>
</body>
</html>
""")


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: floats rounded, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "—"
        return f"{value:.{digits}f}" if abs(value) < 1e5 else f"{value:.3g}"
    try:
        import numpy as np

        if isinstance(value, np.floating):
            return fmt(float(value), digits)
        if isinstance(value, np.integer):
            return str(int(value))
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def image_data_uri(fig: Any, dpi: int = 100, fmt: str = "png") -> str:
    """A matplotlib figure as a data URI; the figure is closed.

    PNG for plots (sharp lines and text); JPEG for montages of microscopy images, which
    are noisy and would make PNGs ten times larger.
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    extra = {"pil_kwargs": {"quality": 82}} if fmt == "jpeg" else {}
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", facecolor="white", **extra)
    plt.close(fig)
    return f"data:image/{fmt};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class Section:
    """One titled part of the report; ``parts`` are HTML snippets, already escaped."""

    id: str
    title: str
    parts: list[str] = field(default_factory=list)

    def raw(self, snippet: str) -> "Section":
        self.parts.append(snippet)
        return self

    def p(self, text: str, cls: str | None = None) -> "Section":
        attr = f' class="{cls}"' if cls else ""
        return self.raw(f"<p{attr}>{esc(text)}</p>")

    def note(self, text: str) -> "Section":
        """Why something is not shown (an array the run does not have)."""
        return self.p(text, "note")

    def h3(self, text: str, swatch: str | None = None) -> "Section":
        mark = f'<span class="swatch" style="background:{esc(swatch)}"></span>' if swatch else ""
        return self.raw(f"<h3>{mark}{esc(text)}</h3>")

    def figure(self, fig: Any, caption: str, alt: str | None = None, dpi: int = 100, fmt: str = "png") -> "Section":
        uri = image_data_uri(fig, dpi=dpi, fmt=fmt)
        return self.raw(
            f'<figure><img src="{uri}" alt="{esc(alt or caption)}"><figcaption>{esc(caption)}</figcaption></figure>'
        )

    def table(
        self,
        header: Sequence[str],
        rows: Iterable[Sequence[Any]],
        caption: str | None = None,
        left: int | Sequence[int] = 1,
    ) -> "Section":
        """A table; columns in ``left`` (or the first ``left``) are left-aligned text, the others numbers."""
        text_cols = set(range(left)) if isinstance(left, int) else set(left)
        cls = lambda j: ' class="l"' if j in text_cols else ""  # noqa: E731
        head = "".join(f"<th{cls(j)}>{esc(h)}</th>" for j, h in enumerate(header))
        body = "".join(
            "<tr>" + "".join(f"<td{cls(j)}>{esc(fmt(v))}</td>" for j, v in enumerate(row)) + "</tr>" for row in rows
        )
        cap = f"<caption>{esc(caption)}</caption>" if caption else ""
        return self.raw(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def kv(self, pairs: Iterable[tuple[str, Any]]) -> "Section":
        """A two-column table of facts without a header row."""
        body = "".join(f'<tr><th class="l">{esc(k)}</th><td class="l">{esc(fmt(v))}</td></tr>' for k, v in pairs)
        return self.raw(f"<table><tbody>{body}</tbody></table>")

    def pre(self, text: str) -> "Section":
        return self.raw(f"<pre>{esc(text)}</pre>")

    def render(self) -> str:
        return f'<section id="{esc(self.id)}"><h2>{esc(self.title)}</h2>\n' + "\n".join(self.parts) + "\n</section>"


def guarded(sid: str, title: str, build: Callable[..., Section], *args: Any) -> Section:
    """``build(*args)``, or a section saying it failed: one broken section must not cost the whole report."""
    try:
        return build(*args)
    except Exception as exc:  # noqa: BLE001 - logged with its traceback, shown as a note
        log.warning("report: section '%s' failed", title, exc_info=True)
        return Section(sid, title).note(f"This section could not be made ({type(exc).__name__}: {exc}); the rest of the report is complete.")


def render_page(title: str, subtitle: Sequence[str], sections: Sequence[Section], footer: str) -> str:
    """The whole document."""
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    return PAGE.substitute(
        title=esc(title),
        subtitle="".join(f"<p>{esc(line)}</p>" for line in subtitle),
        css=CSS,
        nav=nav,
        body="\n".join(s.render() for s in sections),
        footer=esc(footer),
    )
