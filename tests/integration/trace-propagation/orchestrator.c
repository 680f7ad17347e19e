/*
 * orchestrator.c - the orchestrator of the trace-propagation test (see
 * README.md). Runs N tasks concurrently, one thread each. A task is one run
 * with its own trace: its root span gets the run with tl_span_set_run (no
 * process-wide run, no lock), so the trace id is tl_trace_id_for_run(NULL,
 * "task-NNN") and the task's other spans inherit the run from the root. The
 * task opens a dispatch
 * span, spawns a worker process and passes the context to it over a pipe as a
 * W3C traceparent, reads the worker's answer, then records a collect span.
 * With --kill K, task K's first worker is told to hang mid-task and is killed
 * with SIGKILL once busy; a new worker is started for the same task with the
 * same traceparent (attempt 2) and must rejoin the trace.
 *
 * usage: orchestrator --worker PATH [--tasks N] [--kill K]
 * Prints one line per task: "task <run id> trace <hex> attempts <n>", then
 * "orchestrator: N tasks ok". Exit 0 when every task completed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracelamp.h"

#define MAX_TASKS 1000

extern char **environ;

struct orch {
	const char *worker;
	char **worker_env;      /* environ with OTEL_SERVICE_NAME=prop-worker */
	int kill_task;          /* -1 = none */
	pthread_mutex_t out_mu;
};

struct task {
	struct orch *o;
	int index;
	char run_id[32];
	int ok;
	int attempts;
};

/* Starts the worker with stdin/stdout on pipes; returns its pid or -1. */
static pid_t spawn_worker(const struct orch *o, int *to_child, int *from_child)
{
	int in[2], out[2];
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	char *argv[] = {(char *)o->worker, NULL};

	/* O_CLOEXEC: workers spawned by other threads must not inherit these ends */
	if (pipe2(in, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (posix_spawn(&pid, o->worker, &fa, NULL, argv, o->worker_env) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return -1;
	}
	*to_child = in[1];
	*from_child = out[0];
	return pid;
}

/* Runs one attempt. Returns 0 when the worker finished the task in our trace,
 * 1 when it was killed on purpose, -1 on failure. */
static int run_worker(struct task *t, struct tl_span_handle *dispatch, const char *tp, const char *want_hex,
		      int attempt, int hang)
{
	int to_child, from_child, status, rc = -1, busy = 0;
	char msg[512], line[256];
	pid_t pid = spawn_worker(t->o, &to_child, &from_child);
	if (pid < 0) {
		fprintf(stderr, "orchestrator: %s: spawn failed: %s\n", t->run_id, strerror(errno));
		return -1;
	}
	int n = snprintf(msg, sizeof msg, "task %s\ntraceparent %s\nattempt %d\nhang %d\n\n", t->run_id, tp, attempt,
			 hang);
	if (write(to_child, msg, (size_t)n) != n)
		fprintf(stderr, "orchestrator: %s: short write to worker\n", t->run_id);
	close(to_child);
	FILE *f = fdopen(from_child, "r");
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (strcmp(line, "busy") == 0) {
			busy = 1;
			if (hang) {
				kill(pid, SIGKILL);
				struct tl_attribute a = {.key = "worker.pid", .type = TL_ATTR_INT, .v.i = pid};
				tl_span_add_event(dispatch, "worker killed", &a, 1);
				rc = 1;
				break;
			}
		} else if (strncmp(line, "done ", 5) == 0) {
			rc = strcmp(line + 5, want_hex) == 0 ? 0 : -1;
			if (rc)
				fprintf(stderr, "orchestrator: %s: worker joined trace %s, not %s\n", t->run_id, line + 5,
					want_hex);
		}
	}
	if (f)
		fclose(f);
	else
		close(from_child);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		rc = -1;
	if (rc == 1 && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "orchestrator: %s: attempt %d failed (busy=%d, status=0x%x)\n", t->run_id, attempt, busy,
			status);
	return rc;
}

static void *task_main(void *arg)
{
	struct task *t = arg;
	struct orch *o = t->o;
	struct tl_span_context ctx;
	char tp[64], hex[33], name[96];

	/* The task's run goes on its root before anything reads the root's
	 * context; the root's trace id becomes the run's, and every span started
	 * under it inherits the run, whatever other threads do meanwhile. */
	struct tl_span_handle *root = tl_genai_agent_start(NULL, "orchestrator", NULL, NULL);
	if (tl_span_set_run(root, NULL, t->run_id, 0, "orchestrator") != 0)
		fprintf(stderr, "orchestrator: %s: tl_span_set_run failed\n", t->run_id);

	tl_span_get_context(root, &ctx);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", ctx.trace_id[i]);

	snprintf(name, sizeof name, "dispatch %s", t->run_id);
	struct tl_span_handle *dispatch = tl_span_start(name, TL_SPAN_KIND_PRODUCER, root);
	tl_traceparent_inject(dispatch, tp, sizeof tp, NULL, 0);
	int victim = t->index == o->kill_task;
	int r = run_worker(t, dispatch, tp, hex, 1, victim);
	t->attempts = 1;
	if (r == 1) {
		/* the restarted worker gets the same context and must rejoin */
		t->attempts = 2;
		r = run_worker(t, dispatch, tp, hex, 2, 0);
	}
	tl_span_set_int(dispatch, "worker.attempts", t->attempts);
	tl_span_end(dispatch);

	snprintf(name, sizeof name, "collect %s", t->run_id);
	struct tl_span_handle *collect = tl_span_start(name, TL_SPAN_KIND_INTERNAL, root);
	tl_span_end(collect);
	if (r != 0)
		tl_span_record_error(root, "worker_failed", "the worker did not finish");
	tl_span_end(root);
	t->ok = r == 0;

	pthread_mutex_lock(&o->out_mu);
	printf("task %s trace %s attempts %d\n", t->run_id, hex, t->attempts);
	pthread_mutex_unlock(&o->out_mu);
	return NULL;
}

/* environ with OTEL_SERVICE_NAME replaced. Returns owned (never freed: lives
 * until exit). */
static char **worker_environ(void)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof *env);
	size_t k = 0;
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "OTEL_SERVICE_NAME=", 18) != 0)
			env[k++] = environ[i];
	env[k++] = "OTEL_SERVICE_NAME=prop-worker";
	env[k] = NULL;
	return env;
}

int main(int argc, char **argv)
{
	struct orch o;
	struct task *tasks = NULL;
	pthread_t *th = NULL;
	long ntasks = 100;
	int rc = 1, failed = 0;

	memset(&o, 0, sizeof o);
	o.kill_task = -1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--worker") == 0)
			o.worker = argv[i + 1];
		else if (strcmp(argv[i], "--tasks") == 0)
			ntasks = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--kill") == 0)
			o.kill_task = (int)strtol(argv[i + 1], NULL, 10);
	}
	if (!o.worker || ntasks < 1 || ntasks > MAX_TASKS) {
		fprintf(stderr, "usage: orchestrator --worker PATH [--tasks 1..%d] [--kill K]\n", MAX_TASKS);
		return 2;
	}
	if (tl_init() != 0 || !tl_enabled()) {
		fprintf(stderr, "orchestrator: SDK not enabled (set OTEL_EXPORTER_OTLP_ENDPOINT)\n");
		return 2;
	}
	pthread_mutex_init(&o.out_mu, NULL);
	o.worker_env = worker_environ();
	tasks = calloc((size_t)ntasks, sizeof *tasks);
	th = calloc((size_t)ntasks, sizeof *th);
	if (!o.worker_env || !tasks || !th)
		goto out;
	for (long i = 0; i < ntasks; i++) {
		tasks[i].o = &o;
		tasks[i].index = (int)i;
		snprintf(tasks[i].run_id, sizeof tasks[i].run_id, "task-%03ld", i);
		if (pthread_create(&th[i], NULL, task_main, &tasks[i]) != 0) {
			fprintf(stderr, "orchestrator: pthread_create failed\n");
			ntasks = i;
			failed++;
			break;
		}
	}
	for (long i = 0; i < ntasks; i++) {
		pthread_join(th[i], NULL);
		if (!tasks[i].ok)
			failed++;
	}
	rc = failed ? 1 : 0;
out:
	if (tl_shutdown(15000) != 0) {
		fprintf(stderr, "orchestrator: export did not finish\n");
		rc = 1;
	}
	printf("orchestrator: %ld tasks %s\n", ntasks, failed ? "FAILED" : "ok");
	free(tasks);
	free(th);
	free(o.worker_env);
	return rc;
}
