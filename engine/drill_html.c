/* drill_html: the drill report as one self-contained HTML page (drill --report FILE.html).
 *
 * Inline CSS and inline SVG drawn here, no script and no external reference of any kind
 * (fonts, images, styles), so the page opens the same offline, in a mail attachment or
 * years later. Sections, top to bottom: the verdict and the RTO (the restore's wall time to
 * ready to serve), key facts, the phases as one stacked bar, the timeline (one lane per
 * worker, one block per job of the restore's trace, coloured by kind, with a tooltip), and
 * every table's check. Every string that comes from the dump or the server is escaped. */
#include "engine/drill.h"

#include "common/pf_util.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growing buffer ---------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} hbuf;

static void hb_put(hbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (b->n + len + 1 > cap)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = '\0';
}

__attribute__((format(printf, 2, 3))) static void hb_printf(hbuf *b, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    if ((size_t)w < sizeof small) {
        hb_put(b, small, (size_t)w);
        return;
    }
    char *big = malloc((size_t)w + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)w + 1, fmt, ap);
    va_end(ap);
    hb_put(b, big, (size_t)w);
    free(big);
}

/* A string literal. */
#define HB_LIT(b, lit) hb_put((b), (lit), sizeof(lit) - 1)

/* Text for HTML (element content and attribute values alike); at most max bytes of it
 * (0: all), cut on a UTF-8 boundary with an ellipsis. */
static void hb_esc(hbuf *b, const char *s, size_t max)
{
    size_t len = strlen(s), cut = len;
    if (max && len > max) {
        cut = max;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    for (size_t i = 0; i < cut; i++) {
        switch (s[i]) {
        case '&': HB_LIT(b, "&amp;"); break;
        case '<': HB_LIT(b, "&lt;"); break;
        case '>': HB_LIT(b, "&gt;"); break;
        case '"': HB_LIT(b, "&quot;"); break;
        case '\'': HB_LIT(b, "&#39;"); break;
        default: hb_put(b, s + i, 1);
        }
    }
    if (cut < len)
        HB_LIT(b, "\xE2\x80\xA6"); /* … */
}

/* "0.84 s", "12.3 s", "4m 05s", "2h 03m" */
static const char *fmt_dur(double s, char *out, size_t n)
{
    if (s < 0)
        snprintf(out, n, "-");
    else if (s < 10)
        snprintf(out, n, "%.2f s", s);
    else if (s < 60)
        snprintf(out, n, "%.1f s", s);
    else if (s < 3600)
        snprintf(out, n, "%dm %02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, n, "%dh %02dm", (int)s / 3600, (int)s % 3600 / 60);
    return out;
}

/* "300,482" */
static const char *fmt_count(uint64_t v, char *out, size_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

/* ---- the kinds of work, one colour each ------------------------------------------------ */

static const struct {
    const char *cat, *label, *color;
} kinds[] = {{"load", "table load (COPY)", "#3b82c4"},   {"index", "index build", "#f08c2e"},
             {"constraint", "constraint", "#3fa35b"},   {"analyze", "ANALYZE", "#9b6bc4"},
             {"pre-data", "schema (pre-data)", "#8d6e63"}, {"post-data", "other post-data", "#d4b02a"},
             {"finish", "sequences, ACLs, matviews", "#46a6a0"}};

static const char *kind_color(const char *cat)
{
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(cat, kinds[i].cat) == 0)
            return kinds[i].color;
    return "#9e9e9e";
}

/* ---- the page -------------------------------------------------------------------------- */

static const char *const css =
    "*{box-sizing:border-box}"
    "body{margin:0;background:#f4f5f7;color:#1f2937;font:14px/1.45 system-ui,-apple-system,'Segoe UI',"
    "Roboto,'Helvetica Neue',Arial,sans-serif}"
    "main{max-width:1240px;margin:0 auto;padding:28px 28px 48px}"
    "header{display:flex;align-items:center;gap:28px;background:#fff;border-radius:14px;padding:24px 28px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.08);border-left:10px solid var(--v)}"
    ".verdict{font-size:44px;font-weight:800;letter-spacing:.04em;color:var(--v)}"
    ".rto{margin-left:auto;text-align:right}.rto b{display:block;font-size:38px;font-weight:700}"
    ".rto span,.sub{color:#6b7280;font-size:13px}"
    "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:30px 0 10px;color:#374151}"
    ".error{margin-top:14px;background:#fdecec;color:#9b1c1c;border-radius:10px;padding:12px 16px;font-weight:600}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin-top:16px}"
    ".card{background:#fff;border-radius:12px;padding:14px 16px;box-shadow:0 1px 3px rgba(0,0,0,.06)}"
    ".card b{display:block;font-size:20px}.card span{color:#6b7280;font-size:12px;text-transform:uppercase;"
    "letter-spacing:.05em}"
    ".panel{background:#fff;border-radius:12px;padding:18px 20px;box-shadow:0 1px 3px rgba(0,0,0,.06)}"
    ".bar{display:flex;height:30px;border-radius:8px;overflow:hidden;background:#e5e7eb}"
    ".bar div{height:100%;min-width:2px}"
    "table{border-collapse:collapse;width:100%}th,td{padding:7px 10px;text-align:left;border-bottom:1px solid #eef0f3}"
    "th{font-size:12px;color:#6b7280;text-transform:uppercase;letter-spacing:.05em}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".sw{display:inline-block;width:12px;height:12px;border-radius:3px;vertical-align:-1px;margin-right:6px}"
    ".legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin:10px 0 0;color:#4b5563;font-size:13px}"
    ".ok{background:#e3f5e8;color:#1d6b34}.bad{background:#fdecec;color:#9b1c1c}"
    ".pill{border-radius:999px;padding:2px 10px;font-weight:600;font-size:12px}"
    "svg text{font-family:inherit}.lane{fill:#f7f8fa}.tick{stroke:#e5e7eb}.tl{fill:#6b7280;font-size:11px}"
    ".lbl{fill:#374151;font-size:12px;font-weight:600}.in{fill:#fff;font-size:11px;pointer-events:none}"
    ".mark{stroke:#111827;stroke-dasharray:4 3;stroke-width:1}.mk{fill:#111827;font-size:11px}"
    "footer{margin-top:28px;color:#9ca3af;font-size:12px}";

static void page_header(hbuf *b, const drill_options *o, const drill_report *r)
{
    char rto[32], total[32];
    hb_printf(b, "<header style=\"--v:%s\"><div class=\"verdict\">%s</div><div><h1>pgferry restore drill</h1>"
                 "<div class=\"sub\">",
              r->ok ? "#1f9d55" : "#d33c3c", r->ok ? "PASS" : "FAIL");
    hb_esc(b, o->dir ? o->dir : "", 0);
    hb_printf(b, "<br>started %s UTC &middot; scratch database <code>", r->started_at);
    hb_esc(b, r->scratch_db, 0);
    hb_printf(b, "</code> %s</div></div>", r->dropped ? "(dropped)" : (o->keep ? "(kept)" : "(NOT dropped)"));
    hb_printf(b, "<div class=\"rto\"><span>RTO: restore to ready to serve</span><b>%s</b>"
                 "<span>drill total %s</span></div></header>",
              r->restored ? fmt_dur(r->restore.seconds, rto, sizeof rto) : "not restored",
              fmt_dur(r->t_total, total, sizeof total));
    if (!r->ok) {
        HB_LIT(b, "<div class=\"error\">");
        hb_esc(b, r->error, 0);
        HB_LIT(b, "</div>");
    }
}

static void page_cards(hbuf *b, const drill_report *r)
{
    char raw[32], rate[64], rows[32];
    size_t ok = 0;
    for (size_t i = 0; i < r->verify.ntables; i++)
        ok += r->verify.tables[i].status == VERIFY_DB_OK;
    double mbs = r->restore.t_data > 0 ? (double)r->restore.raw_bytes / 1048576.0 / r->restore.t_data : 0;
    snprintf(rate, sizeof rate, "%.1f MB/s", mbs);
    hb_printf(b, "<div class=\"cards\"><div class=\"card\"><span>tables identical</span><b>%zu / %zu</b></div>"
                 "<div class=\"card\"><span>rows</span><b>%s</b></div>"
                 "<div class=\"card\"><span>COPY data</span><b>%s</b></div>"
                 "<div class=\"card\"><span>data load rate</span><b>%s</b></div>"
                 "<div class=\"card\"><span>chunks</span><b>%llu</b></div></div>",
              ok, r->verify.ntables, fmt_count(r->dump_rows, rows, sizeof rows), pf_fmt_bytes(r->dump_raw_bytes, raw, sizeof raw),
              rate, (unsigned long long)r->restore.chunks);
}

static void page_phases(hbuf *b, const drill_report *r)
{
    const restore_summary *s = &r->restore;
    const struct {
        const char *name, *color;
        double t;
    } ph[] = {{"checks (manifest, files, schema archive)", "#94a3b8", s->t_checks},
              {"schema (pre-data)", "#8d6e63", s->t_pre},
              {"data (until the last chunk committed)", "#3b82c4", s->t_data},
              {"indexes and constraints after the last chunk", "#f08c2e", s->t_post},
              {"post-data: sequences, ACLs, matviews, ANALYZE", "#46a6a0", s->t_finish},
              {"verification (every table's rows and content hash)", "#3fa35b", r->t_verify}};
    double sum = 0;
    char d[32];
    for (size_t i = 0; i < 6; i++)
        sum += ph[i].t > 0 ? ph[i].t : 0;
    HB_LIT(b, "<h2>Phases</h2><div class=\"panel\"><div class=\"bar\">");
    for (size_t i = 0; i < 6 && sum > 0; i++)
        hb_printf(b, "<div style=\"width:%.3f%%;background:%s\" title=\"%s: %s\"></div>",
                  100.0 * (ph[i].t > 0 ? ph[i].t : 0) / sum, ph[i].color, ph[i].name, fmt_dur(ph[i].t, d, sizeof d));
    HB_LIT(b, "</div><table style=\"margin-top:12px\"><tr><th>phase</th><th class=\"n\">seconds</th>"
              "<th class=\"n\">share</th></tr>");
    for (size_t i = 0; i < 6; i++)
        hb_printf(b, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>%s</td><td class=\"n\">%.2f</td>"
                     "<td class=\"n\">%.0f%%</td></tr>",
                  ph[i].color, ph[i].name, ph[i].t, sum > 0 ? 100.0 * ph[i].t / sum : 0);
    hb_printf(b, "<tr><td><b>drill total</b></td><td class=\"n\"><b>%.2f</b></td><td></td></tr></table></div>",
              r->t_total);
}

/* ---- the timeline ---------------------------------------------------------------------- */

#define TL_W 1180.0   /* the SVG's width */
#define TL_LEFT 112.0 /* the lane labels */
#define TL_LANE 30.0
#define TL_TOP 34.0

typedef struct {
    double end;   /* seconds, the last span's end */
    int lanes;    /* highest tid + 1 */
} tl_extent;

static tl_extent tl_measure(json_t *events)
{
    tl_extent e = {0, 1};
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        int tid = (int)json_integer_value(json_object_get(ev, "tid"));
        if (tid + 1 > e.lanes)
            e.lanes = tid + 1;
        double end = (double)(json_integer_value(json_object_get(ev, "ts")) +
                              json_integer_value(json_object_get(ev, "dur"))) / 1e6;
        if (end > e.end)
            e.end = end;
    }
    return e;
}

/* A round tick step giving about eight ticks over span seconds. */
static double tick_step(double span)
{
    double raw = span / 8, p = pow(10, floor(log10(raw > 0 ? raw : 1)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void tl_axis(hbuf *b, const tl_extent *e, double h)
{
    double step = tick_step(e->end), scale = (TL_W - TL_LEFT - 8) / e->end;
    for (double t = 0; t <= e->end + 1e-9; t += step) {
        double x = TL_LEFT + t * scale;
        hb_printf(b, "<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, TL_TOP - 6, x, h);
        hb_printf(b, "<text class=\"tl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g s</text>", x, TL_TOP - 12, t);
    }
    for (int l = 0; l < e->lanes; l++) {
        double y = TL_TOP + l * TL_LANE;
        hb_printf(b, "<rect class=\"lane\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"4\"/>", TL_LEFT,
                  y + 2, TL_W - TL_LEFT - 8, TL_LANE - 4);
        if (l == 0)
            hb_printf(b, "<text class=\"lbl\" x=\"8\" y=\"%.1f\">coordinator</text>", y + TL_LANE / 2 + 4);
        else
            hb_printf(b, "<text class=\"lbl\" x=\"8\" y=\"%.1f\">worker %d</text>", y + TL_LANE / 2 + 4, l);
    }
}

static void tl_span(hbuf *b, json_t *ev, const tl_extent *e)
{
    const char *cat = json_string_value(json_object_get(ev, "cat")), *name = json_string_value(json_object_get(ev, "name"));
    if (!cat || !name)
        return;
    double scale = (TL_W - TL_LEFT - 8) / e->end;
    double ts = (double)json_integer_value(json_object_get(ev, "ts")) / 1e6;
    double dur = (double)json_integer_value(json_object_get(ev, "dur")) / 1e6;
    int tid = (int)json_integer_value(json_object_get(ev, "tid"));
    double x = TL_LEFT + ts * scale, w = dur * scale, y = TL_TOP + tid * TL_LANE + 4;
    if (w < 1.5)
        w = 1.5;
    char d[32];
    json_t *rows = json_object_get(json_object_get(ev, "args"), "rows");
    hb_printf(b, "<g class=\"job\" data-kind=\"%s\"><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                 "rx=\"3\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"0.6\"><title>",
              cat, x, y, w, TL_LANE - 8, kind_color(cat));
    hb_esc(b, name, 0);
    hb_printf(b, " (%s) %s, at %.2f s", cat, fmt_dur(dur, d, sizeof d), ts);
    if (rows)
        hb_printf(b, ", %lld rows", (long long)json_integer_value(rows));
    HB_LIT(b, "</title></rect>");
    size_t fit = w > 40 ? (size_t)((w - 8) / 6.3) : 0; /* characters that fit at 11px */
    if (fit >= 4) {
        hb_printf(b, "<text class=\"in\" x=\"%.2f\" y=\"%.1f\">", x + 4, y + (TL_LANE - 8) / 2 + 4);
        hb_esc(b, name, fit);
        HB_LIT(b, "</text>");
    }
    HB_LIT(b, "</g>");
}

/* Dashed lines where the data phase and the index/constraint phase ended. */
static void tl_marks(hbuf *b, const drill_report *r, const tl_extent *e, double h)
{
    const restore_summary *s = &r->restore;
    if (!r->restored) /* a failed restore's phases did not end */
        return;
    const struct {
        double t;
        const char *what;
    } m[] = {{s->t_checks + s->t_pre + s->t_data, "last chunk in"}, {s->t_checks + s->t_pre + s->t_data + s->t_post,
                                                                     "indexes done"}};
    double scale = (TL_W - TL_LEFT - 8) / e->end;
    for (size_t i = 0; i < 2; i++) {
        if (m[i].t <= 0 || m[i].t > e->end * 1.02)
            continue;
        double x = TL_LEFT + m[i].t * scale;
        hb_printf(b, "<line class=\"mark\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, TL_TOP, x, h - 2);
        int left = i == 0 || x > TL_W - 100; /* the label on the line's left, or its right */
        hb_printf(b, "<text class=\"mk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>", x + (left ? -4 : 4),
                  h + 12, left ? "end" : "start", m[i].what);
    }
}

static void page_timeline(hbuf *b, const drill_report *r)
{
    json_t *events = r->trace ? json_object_get(r->trace, "traceEvents") : NULL;
    HB_LIT(b, "<h2>Timeline of the restore</h2><div class=\"panel\">");
    tl_extent e = tl_measure(events);
    if (!events || e.end <= 0) {
        HB_LIT(b, "<p class=\"sub\">No restore trace: the restore did not run.</p></div>");
        return;
    }
    double h = TL_TOP + e.lanes * TL_LANE;
    hb_printf(b, "<svg id=\"timeline\" viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" role=\"img\" "
                 "aria-label=\"restore timeline\">",
              TL_W, h + 20);
    tl_axis(b, &e, h);
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *ph = json_string_value(json_object_get(ev, "ph"));
        if (ph && strcmp(ph, "X") == 0)
            tl_span(b, ev, &e);
    }
    tl_marks(b, r, &e, h);
    HB_LIT(b, "</svg><div class=\"legend\">");
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        hb_printf(b, "<span><span class=\"sw\" style=\"background:%s\"></span>%s</span>", kinds[k].color,
                  kinds[k].label);
    HB_LIT(b, "</div></div>");
}

static void page_tables(hbuf *b, const drill_report *r)
{
    hb_printf(b, "<h2>Tables (%zu)</h2><div class=\"panel\"><table id=\"tables\"><tr><th>table</th>"
                 "<th class=\"n\">rows in dump</th><th class=\"n\">rows restored</th><th>check</th></tr>",
              r->verify.ntables);
    for (size_t i = 0; i < r->verify.ntables; i++) {
        const verify_db_table *t = &r->verify.tables[i];
        int ok = t->status == VERIFY_DB_OK;
        HB_LIT(b, "<tr><td>");
        hb_esc(b, t->schema, 0);
        HB_LIT(b, ".");
        hb_esc(b, t->name, 0);
        char a[32], c[32];
        hb_printf(b, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td><span class=\"pill %s\">%s</span>"
                     "</td></tr>",
                  fmt_count(t->dump_rows, a, sizeof a), fmt_count(t->db_rows, c, sizeof c), ok ? "ok" : "bad",
                  verify_db_status_text(t->status));
    }
    if (r->verify.ntables == 0)
        HB_LIT(b, "<tr><td colspan=\"4\" class=\"sub\">not verified: the restore did not complete</td></tr>");
    HB_LIT(b, "</table></div>");
}

char *drill_html(const drill_options *o, const drill_report *r)
{
    hbuf b = {0};
    hb_printf(&b, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                  "<title>pgferry drill %s: %s</title><style>%s</style></head><body><main>",
              r->ok ? "PASS" : "FAIL", r->started_at, css);
    page_header(&b, o, r);
    page_cards(&b, r);
    page_phases(&b, r);
    page_timeline(&b, r);
    page_tables(&b, r);
    hb_printf(&b, "<footer>pgferry %s &middot; %d worker%s &middot; generated from the drill's restore trace"
                  "</footer></main></body></html>\n",
              PGFERRY_VERSION, o->jobs, o->jobs == 1 ? "" : "s");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
