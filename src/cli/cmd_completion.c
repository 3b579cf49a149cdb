/*
 * cmd_completion.c - `conduit completion bash|zsh|fish` and the hidden
 * `conduit __complete` that the printed scripts call.
 *
 * The scripts are thin adapters: on every TAB they hand the words typed
 * so far to `conduit __complete -- WORD...`, which walks the live command
 * table (commands, subcommands, each one's option table) and prints the
 * candidates.  So one engine serves three shells, a command or option
 * added to the table completes without regenerating any script, and an
 * installed script never disagrees with the installed binary.  Service
 * names come from the registry of the state directory named on the
 * command line being completed (--state-dir, else CONDUIT_STATE_DIR,
 * else the default), active records only.
 *
 * Output: one candidate per line, with "\tDESCRIPTION" appended when
 * --describe is given (zsh and fish show it).  A line ":files" or
 * ":dirs" asks the shell to complete paths itself.
 *
 * Bash splits "--opt=value" into three words ("--opt", "=", "value")
 * and replaces only the text after the "="; zsh and fish keep it whole
 * and replace the whole word.  The engine rejoins the pieces and answers
 * in the form the shell sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "conduit/registry.h"
#include "conduit/state.h"

#define MAX_WORDS 256

/* Positional arguments that are registered service names. */
static const char *const service_positionals[] = {
	"deregister", "logs", "certs inspect", "certs rotate", "dns resolve",
	NULL
};

static const char *const shells[] = { "bash", "zsh", "fish", NULL };

struct comp {
	bool describe;
	bool bash_eq;		/* current word arrived split at '=' */
	const char *prefix;	/* what the candidates must start with */
	const char *state_dir;	/* from the words, or NULL */
	const char *ctx_state_dir;
};

static void
emit(const struct comp *c, const char *lead, const char *word,
    const char *desc)
{
	size_t ll = lead ? strlen(lead) : 0;
	char full[512];

	snprintf(full, sizeof(full), "%s%s", lead ? lead : "", word);
	if (strncmp(full, c->prefix, strlen(c->prefix)) != 0)
		return;
	/* Bash replaces only what follows the '=': answer with the value. */
	fputs(c->bash_eq ? full + ll : full, stdout);
	if (c->describe && desc != NULL && desc[0] != '\0') {
		/* A description is one line; cut at the first newline. */
		fputc('\t', stdout);
		fwrite(desc, 1, strcspn(desc, "\n"), stdout);
	}
	fputc('\n', stdout);
}

static const char *
last_word(const char *name)
{
	const char *sp = strrchr(name, ' ');

	return sp ? sp + 1 : name;
}

static const struct conduit_cmd *
find_sub(const struct conduit_cmd *cmd, const char *word)
{
	const struct conduit_cmd *const *s;

	for (s = cmd->subcmds; s != NULL && *s != NULL; s++)
		if (strcmp(last_word((*s)->name), word) == 0)
			return *s;
	return NULL;
}

static const struct conduit_opt *
find_opt(const struct conduit_opt *opts, const char *word)
{
	const struct conduit_opt *o;
	size_t len;

	if (word[0] != '-' || word[1] == '\0')
		return NULL;
	if (word[1] != '-') {
		for (o = opts; o && o->type != OPT_END; o++)
			if (o->short_name == word[1])
				return o;
		return NULL;
	}
	len = strcspn(word + 2, "=");
	for (o = opts; o && o->type != OPT_END; o++)
		if (strlen(o->long_name) == len &&
		    strncmp(o->long_name, word + 2, len) == 0)
			return o;
	return NULL;
}

static bool
takes_value(const struct conduit_opt *o)
{
	return o != NULL && o->type != OPT_BOOL && o->type != OPT_OPTSTRING;
}

static bool
is_service_slot(const struct conduit_cmd *cmd)
{
	size_t i;

	for (i = 0; service_positionals[i] != NULL; i++)
		if (strcmp(service_positionals[i], cmd->name) == 0)
			return true;
	return false;
}

static void
emit_services(const struct comp *c, const char *lead)
{
	struct conduit_registry reg;
	struct conduit_err err = { 0, "" };
	char path[PATH_MAX + 32];
	size_t i;

	if (conduit_state_path(path, sizeof(path), c->state_dir ? c->state_dir :
	    c->ctx_state_dir, CONDUIT_F_SERVICES, &err) != 0 ||
	    conduit_registry_load(path, &reg, &err) != 0)
		return;	/* nothing to offer; a TAB never prints errors */
	for (i = 0; i < reg.n; i++)
		if (reg.services[i].status == SVC_ACTIVE)
			emit(c, lead, reg.services[i].name, "service");
	conduit_registry_free(&reg);
}

/* Values for option o of cmd; lead is "--opt=" when the word has one. */
static void
emit_values(const struct comp *c, const struct conduit_cmd *cmd,
    const struct conduit_opt *o, const char *lead)
{
	const char *a = o->argname ? o->argname : "", *p;
	char alt[64];
	size_t n, i;
	bool literal;

	if (strcmp(o->long_name, "service") == 0 ||
	    (strcmp(o->long_name, "name") == 0 && cmd && is_service_slot(cmd))) {
		emit_services(c, lead);
		return;
	}
	if (strstr(a, "FILE") != NULL || strstr(a, "PATH") != NULL) {
		puts(":files");
		return;
	}
	if (strstr(a, "DIR") != NULL) {
		puts(":dirs");
		return;
	}
	/* "structural|full|signatures", "5xx|4xx|CODE": offer the literal
	 * alternatives; upper-case ones are placeholders. */
	if (strchr(a, '|') == NULL)
		return;
	for (p = a; *p != '\0'; p += n + (p[n] == '|')) {
		n = strcspn(p, "|");
		literal = n > 0 && n < sizeof(alt);
		for (i = 0; i < n && literal; i++)
			if (p[i] >= 'A' && p[i] <= 'Z')
				literal = false;
		if (literal) {
			memcpy(alt, p, n);
			alt[n] = '\0';
			emit(c, lead, alt, NULL);
		}
	}
}

static void
emit_options(const struct comp *c, const struct conduit_opt *opts)
{
	const struct conduit_opt *o;
	char w[96];

	for (o = opts; o && o->type != OPT_END; o++) {
		snprintf(w, sizeof(w), "--%s", o->long_name);
		emit(c, NULL, w, o->help);
	}
	emit(c, NULL, "--help", "show this help and exit");
}

static void
emit_globals(const struct comp *c)
{
	emit(c, NULL, "--state-dir", "state directory");
	emit(c, NULL, "--config", "settings file");
	emit(c, NULL, "--version", "print the version");
	emit(c, NULL, "--help", "show help");
}

static void
emit_commands(const struct comp *c)
{
	const struct conduit_cmd *const *all = conduit_cmd_all();
	size_t i;

	for (i = 0; all[i] != NULL; i++)
		if (!(all[i]->flags & CMD_HIDDEN))
			emit(c, NULL, all[i]->name, all[i]->summary);
}

/* Positional slot npos (0-based, counting the subcommand) of top; cmd
 * is the subcommand when one was recognised, else top. */
static void
emit_positional(const struct comp *c, const struct conduit_cmd *top,
    const struct conduit_cmd *cmd, size_t npos)
{
	const struct conduit_cmd *const *s;
	size_t i;

	if (top->subcmds != NULL) {
		if (npos == 0) {
			for (s = top->subcmds; *s != NULL; s++)
				emit(c, NULL, last_word((*s)->name), (*s)->summary);
			return;
		}
		if (cmd == top)
			return;	/* unknown subcommand */
		npos--;
	}
	if (npos != 0)
		return;
	if (is_service_slot(cmd))
		emit_services(c, NULL);
	else if (strcmp(cmd->name, "help") == 0)
		emit_commands(c);
	else if (strcmp(cmd->name, "completion") == 0)
		for (i = 0; shells[i] != NULL; i++)
			emit(c, NULL, shells[i], NULL);
	else if (cmd->usage != NULL && strstr(cmd->usage, "FILE") != NULL)
		puts(":files");
}

/* Rejoins bash's "--opt" "=" "value" into one word (into buf). */
static int
join_words(int n, char **in, char **out, char *buf, size_t buflen,
    bool *cur_split)
{
	int i, m = 0;
	size_t off = 0;

	*cur_split = false;
	for (i = 0; i < n && m < MAX_WORDS; i++) {
		if (strcmp(in[i], "=") == 0 && m > 0 && strncmp(out[m - 1], "--", 2) == 0 &&
		    strchr(out[m - 1], '=') == NULL) {
			const char *val = i + 1 < n ? in[i + 1] : "";
			int k = snprintf(buf + off, buflen - off, "%s=%s",
			    out[m - 1], val);
			if (k < 0 || (size_t)k >= buflen - off)
				return -1;
			out[m - 1] = buf + off;
			off += (size_t)k + 1;
			if (i + 1 >= n - 1)
				*cur_split = true;	/* it was the current word */
			i++;
			continue;
		}
		out[m++] = in[i];
	}
	return m;
}

static int
complete_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	static char *w[MAX_WORDS];
	static char buf[16384];
	struct comp c = { .prefix = "", .ctx_state_dir = ctx->state_dir };
	const struct conduit_cmd *cmd = NULL, *top = NULL, *sub;
	const struct conduit_opt *o, *pending = NULL;
	const char *cur, *pending_global = NULL;
	bool dashdash = false;
	size_t npos = 0;
	int i = 1, n;

	if (i < argc && strcmp(argv[i], "--describe") == 0) {
		c.describe = true;
		i++;
	}
	if (i >= argc || strcmp(argv[i], "--") != 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "usage: conduit __complete [--describe] -- WORD...");
	i++;
	if ((n = join_words(argc - i, argv + i, w, buf, sizeof(buf),
	    &c.bash_eq)) <= 0)
		return 0;
	cur = w[n - 1];

	/* Walk the finished words: global options, the command, its
	 * subcommand, options (skipping their values) and positionals. */
	for (i = 0; i < n - 1; i++) {
		const char *a = w[i];
		if (pending_global != NULL) {
			if (strcmp(pending_global, "--state-dir") == 0)
				c.state_dir = a;
			pending_global = NULL;
		} else if (pending != NULL)
			pending = NULL;
		else if (top == NULL) {
			if (strcmp(a, "--state-dir") == 0 || strcmp(a, "--config") == 0)
				pending_global = a;
			else if (strncmp(a, "--state-dir=", 12) == 0)
				c.state_dir = a + 12;
			else if (a[0] != '-') {
				if ((top = conduit_cmd_find(a)) == NULL)
					return 0;	/* unknown command */
				cmd = top;
			}
		} else if (!dashdash && strcmp(a, "--") == 0)
			dashdash = true;
		else if (!dashdash && a[0] == '-' && a[1] != '\0') {
			o = find_opt(cmd->opts, a);
			if (takes_value(o) && strchr(a, '=') == NULL &&
			    (a[1] == '-' || a[2] == '\0'))
				pending = o;
		} else {
			if (npos == 0 && top->subcmds != NULL &&
			    (sub = find_sub(top, a)) != NULL)
				cmd = sub;
			npos++;
		}
	}

	c.prefix = cur;
	if (pending_global != NULL)
		puts(strcmp(pending_global, "--config") == 0 ? ":files" : ":dirs");
	else if (pending != NULL)
		emit_values(&c, cmd, pending, NULL);
	else if (top == NULL) {
		if (strncmp(cur, "--state-dir=", 12) == 0)
			puts(":dirs");
		else if (strncmp(cur, "--config=", 9) == 0)
			puts(":files");
		else if (cur[0] == '-')
			emit_globals(&c);
		else
			emit_commands(&c);
	} else if (!dashdash && cur[0] == '-') {
		const char *eq = strchr(cur, '=');
		char lead[96];
		if (eq == NULL || cur[1] != '-')
			emit_options(&c, cmd->opts);
		else if ((o = find_opt(cmd->opts, cur)) != NULL && takes_value(o)) {
			snprintf(lead, sizeof(lead), "%.*s", (int)(eq - cur + 1), cur);
			emit_values(&c, cmd, o, lead);
		}
	} else
		emit_positional(&c, top, cmd, npos);
	return 0;
}

const struct conduit_cmd cmd_complete_entry = {
	.name = "__complete",
	.summary = "completion candidates for the shell scripts (plumbing)",
	.usage = "__complete [--describe] -- WORD...",
	.description = "Prints the candidates for the last WORD, one per line; "
	    "used by the scripts\n`conduit completion SHELL` prints.",
	.flags = CMD_HIDDEN,
	.opts = NULL,
	.exec = complete_exec,
};

/*
 * The scripts.  Each passes the words typed so far, the current one
 * last (possibly empty), to the same conduit the user is typing.
 */
static const char bash_script[] =
"# bash completion for conduit                           -*- shell-script -*-\n"
"# Printed by `conduit completion bash`.  The candidates come from conduit\n"
"# itself (`conduit __complete`), so new commands need no new script.\n"
"# Install: conduit completion bash > /usr/share/bash-completion/completions/conduit\n"
"# or, for one shell: source <(conduit completion bash)\n"
"_conduit()\n"
"{\n"
"    local cur=${COMP_WORDS[COMP_CWORD]} line IFS=$'\\n'\n"
"    local -a out\n"
"    [[ $cur == = ]] && cur=\n"
"    out=($(command \"${COMP_WORDS[0]}\" __complete -- \\\n"
"        \"${COMP_WORDS[@]:1:COMP_CWORD}\" 2>/dev/null))\n"
"    COMPREPLY=()\n"
"    for line in \"${out[@]}\"; do\n"
"        case $line in\n"
"        :files) compopt -o filenames 2>/dev/null\n"
"                COMPREPLY+=($(compgen -f -- \"$cur\")) ;;\n"
"        :dirs)  compopt -o filenames 2>/dev/null\n"
"                COMPREPLY+=($(compgen -d -- \"$cur\")) ;;\n"
"        *)      COMPREPLY+=(\"$line\") ;;\n"
"        esac\n"
"    done\n"
"}\n"
"complete -F _conduit conduit\n";

static const char zsh_script[] =
"#compdef conduit\n"
"# zsh completion for conduit, printed by `conduit completion zsh`.\n"
"# The candidates come from conduit itself (`conduit __complete`).\n"
"# Install: conduit completion zsh > \"${fpath[1]}/_conduit\"\n"
"# or, for one shell (after compinit): source <(conduit completion zsh)\n"
"_conduit() {\n"
"  local line files=0 dirs=0\n"
"  local -a out specs\n"
"  out=(\"${(@f)$(command ${words[1]} __complete --describe -- \\\n"
"      \"${(@)words[2,CURRENT]}\" 2>/dev/null)}\")\n"
"  for line in $out; do\n"
"    case $line in\n"
"      :files) files=1 ;;\n"
"      :dirs) dirs=1 ;;\n"
"      '') ;;\n"
"      *) specs+=(\"${${line%%$'\\t'*}//:/\\\\:}:${line#*$'\\t'}\") ;;\n"
"    esac\n"
"  done\n"
"  (( files )) && _files\n"
"  (( dirs )) && _files -/\n"
"  (( $#specs )) && _describe -t conduit conduit specs\n"
"  return 0\n"
"}\n"
"if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
"  _conduit \"$@\"\n"
"else\n"
"  compdef _conduit conduit\n"
"fi\n";

static const char fish_script[] =
"# fish completion for conduit, printed by `conduit completion fish`.\n"
"# The candidates come from conduit itself (`conduit __complete`).\n"
"# Install: conduit completion fish > ~/.config/fish/completions/conduit.fish\n"
"function __conduit_complete\n"
"    set -l tokens (commandline -opc)\n"
"    set -l cur (commandline -ct)\n"
"    for line in (command $tokens[1] __complete --describe -- $tokens[2..-1] \"$cur\" 2>/dev/null)\n"
"        switch $line\n"
"            case :files\n"
"                __fish_complete_path \"$cur\"\n"
"            case :dirs\n"
"                __fish_complete_directories \"$cur\"\n"
"            case '*'\n"
"                echo $line\n"
"        end\n"
"    end\n"
"end\n"
"complete -c conduit -f -a '(__conduit_complete)'\n";

static int
completion_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	static const char *const scripts[] = { bash_script, zsh_script,
		fish_script };
	int rc, npos;
	size_t i;

	(void)ctx;
	if ((rc = conduit_opts_parse(&cmd_completion_entry, NULL, argc, argv,
	    &npos, err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos != 1)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "name one shell: bash, zsh or fish");
	for (i = 0; shells[i] != NULL; i++)
		if (strcmp(argv[0], shells[i]) == 0) {
			fputs(scripts[i], stdout);
			return 0;
		}
	return conduit_err_set(err, CONDUIT_EUSAGE,
	    "no completion for shell \"%.40s\" (bash, zsh or fish)", argv[0]);
}

const struct conduit_cmd cmd_completion_entry = {
	.name = "completion",
	.summary = "print a shell completion script (bash, zsh, fish)",
	.usage = "completion bash|zsh|fish",
	.description = "Completes commands, subcommands, options, option "
	    "values and registered service\nnames. Installed packages "
	    "already ship the scripts; for one shell session:\n"
	    "  source <(conduit completion bash)",
	.flags = 0,
	.opts = NULL,
	.exec = completion_exec,
};
