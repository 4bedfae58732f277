/* cli_spec_fmt: the three renderings of the command descriptions in cli_spec.c: --help,
 * man pages (roff with man(7) macros) and the bash completion. */
#include "tools/cli_spec.h"

#include <ctype.h>
#include <string.h>

#define HELP_COL 28   /* where an option's help starts in --help */
#define HELP_WIDTH 90 /* the width --help's generated paragraphs wrap at */

/* ---- --help ---------------------------------------------------------------------------- */

/* Writes lines ("\n" between): the first after what is on the line already (at column
 * col), the others indented to HELP_COL. */
static void help_lines(FILE *out, const char *text, size_t col)
{
    if (col + 2 > HELP_COL)
        fputs("  ", out);
    else
        fprintf(out, "%*s", (int)(HELP_COL - col), "");
    for (const char *p = text; *p; p++) {
        fputc(*p, out);
        if (*p == '\n')
            fprintf(out, "%*s", HELP_COL, "");
    }
    fputc('\n', out);
}

static void help_option(FILE *out, const cli_opt *o)
{
    char head[128];
    int n;
    if (o->short_opt)
        n = snprintf(head, sizeof head, "  -%c, --%s%s%s", o->short_opt, o->name, o->arg ? "=" : "",
                     o->arg ? o->arg : "");
    else
        n = snprintf(head, sizeof head, "      --%s%s%s", o->name, o->arg ? "=" : "", o->arg ? o->arg : "");
    fputs(head, out);
    help_lines(out, o->help, n > 0 ? (size_t)n : 0);
}

/* Words of text joined into lines of at most HELP_WIDTH, starting after lead. */
static void help_wrap(FILE *out, const char *lead, const char *text)
{
    size_t col = strlen(lead);
    int first = 1;
    fputs(lead, out);
    for (const char *p = text;;) {
        p += strspn(p, " \n");
        size_t w = strcspn(p, " \n");
        if (!w)
            break;
        if (!first && col + 1 + w > HELP_WIDTH) {
            fputc('\n', out);
            col = 0;
        } else if (!first) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += w;
        p += w;
        first = 0;
    }
    fputc('\n', out);
}

static void help_exit_codes(FILE *out, const cli_cmd *c)
{
    char text[2048];
    size_t at = 0;
    for (size_t i = 0; i < CLI_MAX_ITEMS && c->exit_codes[i].key && at < sizeof text; i++) {
        int n = snprintf(text + at, sizeof text - at, "%s%s %s", i ? ", " : "", c->exit_codes[i].key,
                         c->exit_codes[i].text);
        at += n > 0 ? (size_t)n : 0;
    }
    if (at == 0)
        return;
    snprintf(text + at, sizeof text - at, ".");
    help_wrap(out, "Exit codes: ", text);
    if (c->exit_note)
        fprintf(out, "%s\n", c->exit_note);
}

static void help_environment(FILE *out, const cli_cmd *c)
{
    if (!c->environment[0].key)
        return;
    fputs("\nEnvironment:\n", out);
    for (size_t i = 0; i < CLI_MAX_ITEMS && c->environment[i].key; i++) {
        fprintf(out, "  %s", c->environment[i].key);
        help_lines(out, c->environment[i].text, 2 + strlen(c->environment[i].key));
    }
}

/* Whether section s of c holds an option. */
static int section_used(const cli_cmd *c, int s)
{
    for (const cli_opt *o = c->opts; o->name; o++)
        if (o->section == s)
            return 1;
    return 0;
}

static void help_sections(FILE *out, const cli_cmd *c)
{
    for (int s = 0; s < CLI_MAX_SECTIONS; s++) {
        const cli_section *sec = &c->sections[s];
        if (!section_used(c, s) && !sec->title)
            continue;
        if (sec->title)
            fprintf(out, "%s:\n", sec->title);
        if (sec->intro)
            fprintf(out, "%s\n", sec->intro);
        for (const cli_opt *o = c->opts; o->name; o++)
            if (o->section == s)
                help_option(out, o);
        if (sec->outro)
            fprintf(out, "%s\n", sec->outro);
        fputc('\n', out);
    }
}

/* The synopsis: "Usage: pgferry NAME ..." and its other forms under it; a continued line
 * is indented past "pgferry NAME". */
static void help_usage(FILE *out, const char *name, const char *usage)
{
    const char *lead = "Usage: ";
    int width = (int)(strlen("pgferry ") + (name ? strlen(name) + 1 : 0));
    for (const char *p = usage; *p;) {
        size_t n = strcspn(p, "\n");
        if (n >= 2 && p[0] == ' ' && p[1] == ' ')
            fprintf(out, "       %*s%.*s\n", width, "", (int)(n - 2), p + 2);
        else
            fprintf(out, "%spgferry%s%s %.*s\n", lead, name ? " " : "", name ? name : "", (int)n, p);
        lead = "       ";
        p += n + (p[n] == '\n');
    }
}

void cli_spec_help(const cli_cmd *c, FILE *out)
{
    if (!c->name)
        fprintf(out, "pgferry %s - %s\n\n", PGFERRY_VERSION, c->summary);
    help_usage(out, c->name, c->usage);
    fputc('\n', out);
    if (!c->name) {
        fputs("Commands:\n", out);
        for (size_t i = 0; cli_commands[i]; i++)
            fprintf(out, "  %-9s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
        fputc('\n', out);
    }
    fprintf(out, "%s\n\n", c->description);
    help_sections(out, c);
    help_exit_codes(out, c);
    help_environment(out, c);
}

/* ---- man pages -------------------------------------------------------------------------- */

/* Text as roff: backslashes and hyphens escaped (so options copy as typed), a line that
 * would start with a control character made plain. */
static void roff(FILE *out, const char *s, size_t n)
{
    int bol = 1;
    for (size_t i = 0; i < n && s[i]; i++) {
        char ch = s[i];
        if (bol && (ch == '.' || ch == '\''))
            fputs("\\&", out);
        if (ch == '\\')
            fputs("\\e", out);
        else if (ch == '-')
            fputs("\\-", out);
        else
            fputc(ch, out);
        bol = ch == '\n';
    }
}

static void roff_all(FILE *out, const char *s) { roff(out, s, strlen(s)); }

/* Prose: paragraphs at blank lines, lines starting with two spaces kept as they are. */
static void man_prose(FILE *out, const char *text)
{
    int verbatim = 0, start = 1;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        int pre = n >= 2 && p[0] == ' ' && p[1] == ' ';
        if (n == 0) {
            if (verbatim)
                fputs(".fi\n", out);
            verbatim = 0;
            start = 1;
        } else {
            if (start)
                fputs(".PP\n", out);
            start = 0;
            if (pre != verbatim)
                fputs(pre ? ".nf\n" : ".fi\n", out);
            verbatim = pre;
            roff(out, p, n);
            fputc('\n', out);
        }
        p += n + (p[n] == '\n');
    }
    if (verbatim)
        fputs(".fi\n", out);
}

static void man_option(FILE *out, const cli_opt *o)
{
    fputs(".TP\n", out);
    if (o->short_opt)
        fprintf(out, "\\fB\\-%c\\fR, ", o->short_opt);
    fputs("\\fB\\-\\-", out);
    roff_all(out, o->name);
    fputs("\\fR", out);
    if (o->arg) {
        fputs("=\\fI", out);
        roff_all(out, o->arg);
        fputs("\\fR", out);
    }
    fputc('\n', out);
    roff_all(out, o->help);
    fputc('\n', out);
}

static void man_options(FILE *out, const cli_cmd *c)
{
    fputs(".SH OPTIONS\n", out);
    for (int s = 0; s < CLI_MAX_SECTIONS; s++) {
        const cli_section *sec = &c->sections[s];
        if (!section_used(c, s) && !sec->title)
            continue;
        if (sec->title) {
            fputs(".SS ", out);
            roff_all(out, sec->title);
            fputc('\n', out);
        }
        if (sec->intro)
            man_prose(out, sec->intro);
        for (const cli_opt *o = c->opts; o->name; o++)
            if (o->section == s)
                man_option(out, o);
        if (sec->outro)
            man_prose(out, sec->outro);
    }
}

static void man_items(FILE *out, const char *heading, const cli_item *items, const char *note)
{
    if (!items[0].key)
        return;
    fprintf(out, ".SH %s\n", heading);
    for (size_t i = 0; i < CLI_MAX_ITEMS && items[i].key; i++) {
        fputs(".TP\n\\fB", out);
        roff_all(out, items[i].key);
        fputs("\\fR\n", out);
        roff_all(out, items[i].text);
        fputc('\n', out);
    }
    if (note)
        man_prose(out, note);
}

static void man_examples(FILE *out, const cli_cmd *c)
{
    if (!c->examples[0].command)
        return;
    fputs(".SH EXAMPLES\n", out);
    for (size_t i = 0; i < CLI_MAX_ITEMS && c->examples[i].command; i++) {
        fputs(".PP\n", out);
        roff_all(out, c->examples[i].what);
        fputs(":\n.RS 4\n.nf\n", out);
        roff_all(out, c->examples[i].command);
        fputs("\n.fi\n.RE\n", out);
    }
}

static void man_header(FILE *out, const cli_cmd *c)
{
    char page[64];
    snprintf(page, sizeof page, "pgferry%s%s", c->name ? "-" : "", c->name ? c->name : "");
    fputs(".\\\" generated from tools/cli_spec.c by tools/gen/pgferry_gen.c: do not edit\n.TH ", out);
    for (const char *p = page; *p; p++) {
        if (*p == '-')
            fputs("\\-", out);
        else
            fputc(toupper((unsigned char)*p), out);
    }
    fprintf(out, " 1 \"\" \"pgferry %s\" \"pgferry manual\"\n.nh\n.ad l\n.SH NAME\n", PGFERRY_VERSION);
    roff_all(out, page);
    fputs(" \\- ", out);
    roff_all(out, c->summary);
    fputs("\n.SH SYNOPSIS\n.nf\n", out);
    for (const char *p = c->usage; *p;) {
        size_t n = strcspn(p, "\n");
        if (n >= 2 && p[0] == ' ' && p[1] == ' ') /* continued: indented as in --help */
            fprintf(out, "%*s", (int)(strlen("pgferry ") + (c->name ? strlen(c->name) + 1 : 0)) - 2, "");
        else
            fprintf(out, "\\fBpgferry%s%s\\fR ", c->name ? " " : "", c->name ? c->name : "");
        roff(out, p, n);
        fputc('\n', out);
        p += n + (p[n] == '\n');
    }
    fputs(".fi\n.SH DESCRIPTION\n", out);
}

static void man_commands(FILE *out)
{
    fputs(".SH COMMANDS\n", out);
    for (size_t i = 0; cli_commands[i]; i++) {
        fprintf(out, ".TP\n\\fBpgferry\\-%s\\fR(1)\n", cli_commands[i]->name);
        roff_all(out, cli_commands[i]->summary);
        fputc('\n', out);
    }
}

static void man_see_also(FILE *out, const cli_cmd *c)
{
    fputs(".SH SEE ALSO\n", out);
    if (c->name)
        fputs("\\fBpgferry\\fR(1), ", out);
    for (size_t i = 0; cli_commands[i]; i++)
        if (cli_commands[i] != c)
            fprintf(out, "\\fBpgferry\\-%s\\fR(1), ", cli_commands[i]->name);
    fputs("\\fBpg_dump\\fR(1), \\fBpg_restore\\fR(1)\n", out);
}

void cli_spec_man(const cli_cmd *c, FILE *out)
{
    man_header(out, c);
    man_prose(out, c->description);
    if (!c->name)
        man_commands(out);
    man_options(out, c);
    man_items(out, "EXIT STATUS", c->exit_codes, c->exit_note);
    man_items(out, "ENVIRONMENT", c->environment, NULL);
    man_examples(out, c);
    man_see_also(out, c);
}

/* ---- bash completion ---------------------------------------------------------------- */

static const char *const bash_head =
    "# bash completion for pgferry: generated from tools/cli_spec.c by tools/gen/pgferry_gen.c,\n"
    "# do not edit.\n"
    "\n"
    "# _pgferry_offer WHAT: COMPREPLY from $cur; WHAT is @file, @dir or a list of words.\n"
    "_pgferry_offer() {\n"
    "    local IFS=$'\\n'\n"
    "    case $1 in\n"
    "    @file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
    "    @dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
    "    *) IFS=$' \\t\\n'; COMPREPLY=($(compgen -W \"$1\" -- \"$cur\")) ;;\n"
    "    esac\n"
    "}\n"
    "\n"
    "_pgferry() {\n"
    "    local cur=${COMP_WORDS[COMP_CWORD]} prev= cmd=${COMP_WORDS[1]:-}\n"
    "    COMPREPLY=()\n"
    "    ((COMP_CWORD > 1)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
    "    # --option=value: one word, or three where COMP_WORDBREAKS holds '='\n"
    "    if [[ $cur == --*=* ]]; then prev=${cur%%=*}; cur=${cur#*=}\n"
    "    elif [[ $cur == = ]]; then cur=\n"
    "    elif [[ $prev == = ]] && ((COMP_CWORD > 2)); then prev=${COMP_WORDS[COMP_CWORD - 2]}\n"
    "    fi\n";

/* The words of every command name, space-separated. */
static void bash_command_words(FILE *out)
{
    for (size_t i = 0; cli_commands[i]; i++)
        fprintf(out, "%s%s", i ? " " : "", cli_commands[i]->name);
}

static void bash_value_cases(FILE *out, const cli_cmd *c)
{
    fputs("        case $prev in\n", out);
    for (const cli_opt *o = c->opts; o->name; o++) {
        if (!o->arg)
            continue;
        fputs("        ", out);
        if (o->short_opt)
            fprintf(out, "-%c|", o->short_opt);
        fprintf(out, "--%s) ", o->name);
        if (o->complete)
            fprintf(out, "_pgferry_offer '%s'; ", o->complete);
        fputs("return 0 ;;\n", out);
    }
    fputs("        esac\n", out);
}

static void bash_command(FILE *out, const cli_cmd *c)
{
    fprintf(out, "    %s)\n", c->name);
    bash_value_cases(out, c);
    fputs("        if [[ $cur == -* ]]; then _pgferry_offer '", out);
    int first = 1;
    for (const cli_opt *o = c->opts; o->name; o++) {
        fprintf(out, "%s--%s", first ? "" : " ", o->name);
        first = 0;
    }
    for (const cli_opt *o = c->opts; o->name; o++)
        if (o->short_opt && o->short_opt != '?')
            fprintf(out, " -%c", o->short_opt);
    fputs("'\n", out);
    if (c->args && *c->args)
        fprintf(out, "        else _pgferry_offer '%s'\n", c->args);
    fputs("        fi ;;\n", out);
}

void cli_spec_bash_completion(FILE *out)
{
    fputs(bash_head, out);
    fputs("    if ((COMP_CWORD == 1)); then\n        _pgferry_offer '", out);
    bash_command_words(out);
    fputs(" help --help --version'\n        return 0\n    fi\n    case $cmd in\n", out);
    fputs("    help) ((COMP_CWORD == 2)) && _pgferry_offer '", out);
    bash_command_words(out);
    fputs("' ;;\n", out);
    for (size_t i = 0; cli_commands[i]; i++)
        bash_command(out, cli_commands[i]);
    fputs("    esac\n    return 0\n}\ncomplete -F _pgferry pgferry\n", out);
}
