/* test_install - what `cmake --install` puts under a prefix works from
 * there: the installed daemon, run from an unrelated working directory,
 * accepts every example config installed in share/omnigate (their ${ENV}
 * secrets set) with its default connector directory, and refuses one whose
 * secret is unset, naming the variable (so the check is a real one).
 *
 * The tree is installed with DESTDIR into a temp dir, so nothing outside it
 * is written whatever the tree's install destinations. */
#include "og_test.h"
#include "og_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PREFIX "/og-prefix"

static const char *const configs[] = {"omnigate.example.json", "omnigate.demo.json",
                                      "omnigate.container.json", "omnigate.system.json"};

/* Runs bin --config config --check in dir with a clean environment plus
 * env (NULL-terminated "NAME=value"); its output goes to out. Returns the
 * exit status. */
static int check(const char *dir, const char *bin, const char *config, char *const env[],
                 const char *out)
{
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1), dup2(fd, 2);
        if (chdir(dir) != 0)
            _exit(126);
        execle(bin, bin, "--config", config, "--check", (char *)NULL, env);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int file_has(const char *path, const char *needle)
{
    char *text = og_test_read_file(path, NULL);
    int has = text && strstr(text, needle);
    if (!has)
        fprintf(stderr, "%s lacks \"%s\":\n%s\n", path, needle, text ? text : "(none)");
    free(text);
    return has;
}

int main(void)
{
    char *tmp = og_test_tmpdir();
    char *cmd =
        og_sprintf("DESTDIR=%s '%s' --install '%s' --prefix " PREFIX " >%s/install.log 2>&1", tmp,
                   OG_CMAKE_COMMAND, OG_BINARY_DIR, tmp);
    CHECK_INT(system(cmd), 0);
    char *bin = og_sprintf("%s" PREFIX "/bin/omnigate", tmp);
    char *share = og_sprintf("%s" PREFIX "/share/omnigate", tmp);
    char *out = og_sprintf("%s/check.out", tmp);
    char *const env[] = {"PATH=/usr/bin:/bin",
                         "OMNIGATE_ADMIN_TOKEN=install-admin-token-0123456789",
                         "OMNIGATE_DEMO_SECRET=install-secret", "OMNIGATE_REDIS_PASSWORD=", NULL};

    /* the ones README names are there... */
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) {
        char *path = og_sprintf("%s/%s", share, configs[i]);
        struct stat sb;
        CHECK(stat(path, &sb) == 0 && S_ISREG(sb.st_mode));
        free(path);
    }
    /* ...and every installed one passes, from a directory with no build tree */
    DIR *d = opendir(share);
    CHECK(d != NULL);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (!strstr(de->d_name, ".json"))
            continue;
        char *path = og_sprintf("%s/%s", share, de->d_name);
        int rc = check(tmp, bin, path, env, out);
        CHECK_INT(rc, 0);
        CHECK(file_has(out, ": ok ("));
        free(path);
        n++;
    }
    if (d)
        closedir(d);
    CHECK(n >= (int)(sizeof configs / sizeof *configs));

    /* a secret left unset is an error that names its variable */
    char *const no_secret[] = {"PATH=/usr/bin:/bin",
                               "OMNIGATE_ADMIN_TOKEN=install-admin-token-0123456789", NULL};
    char *demo = og_sprintf("%s/omnigate.demo.json", share);
    CHECK_INT(check(tmp, bin, demo, no_secret, out), 1);
    CHECK(file_has(out, "environment variable OMNIGATE_DEMO_SECRET is not set"));

    free(demo), free(out), free(share), free(bin), free(cmd);
    og_test_rmdir(tmp);
    free(tmp);
    return og_test_done();
}
