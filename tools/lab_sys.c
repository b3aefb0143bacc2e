/* c1m lab: kernel figures, sysctls, network namespaces. See lab_sys.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/lab_sys.h"
#include "tools/proc.h"

/* ---- a process tree ---------------------------------------------------------- */

typedef struct pinfo {
    pid_t pid, ppid;
    uint64_t ticks, rss_pages;
} pinfo_t;

static int read_stat(pid_t pid, pinfo_t *p)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    if (!s)
        return -1;
    /* fields after comm: 3 state, 4 ppid, ... 14 utime, 15 stime, ... 24 rss */
    char state;
    int ppid;
    unsigned long long ut, st, rss;
    if (sscanf(s + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                      "%*d %*d %*u %*u %llu",
               &state, &ppid, &ut, &st, &rss) != 5)
        return -1;
    p->pid = pid;
    p->ppid = ppid;
    p->ticks = ut + st;
    p->rss_pages = rss;
    return 0;
}

long lab_clock_ticks(void)
{
    long t = sysconf(_SC_CLK_TCK);
    return t > 0 ? t : 100;
}

void lab_tree_sample(pid_t root, lab_tree_sample_t *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *s = (lab_tree_sample_t){ .wall_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec };
    if (root <= 0)
        return;
    size_t cap = 256, n = 0;
    pinfo_t *all = malloc(cap * sizeof *all);
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (all && d && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        if (n == cap) {
            pinfo_t *m = realloc(all, 2 * cap * sizeof *all);
            if (!m)
                break;
            all = m;
            cap *= 2;
        }
        if (read_stat((pid_t)atoi(e->d_name), &all[n]) == 0)
            n++;
    }
    if (d)
        closedir(d);
    if (!all)
        return;
    /* mark the tree: repeat until no process joins (depth is small) */
    char *in = calloc(n ? n : 1, 1);
    bool grew = true;
    while (in && grew) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (in[i])
                continue;
            bool join = all[i].pid == root;
            for (size_t j = 0; !join && j < n; j++)
                join = in[j] && all[j].pid == all[i].ppid;
            if (join)
                in[i] = 1, grew = true;
        }
    }
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; in && i < n; i++)
        if (in[i]) {
            s->cpu_ticks += all[i].ticks;
            s->rss_bytes += all[i].rss_pages * (uint64_t)page;
            s->nprocs++;
        }
    free(in);
    free(all);
}

/* ---- kernel socket memory ------------------------------------------------------ */

void lab_kmem_read(pid_t pid, lab_kmem_t *k)
{
    static const char *caches[] = { "TCP", "tcp_bind_bucket", "sock_inode_cache",
                                    "request_sock_TCP", "eventpoll_epi", "filp", "dentry",
                                    NULL };
    *k = (lab_kmem_t){ 0 };
    FILE *f = fopen("/proc/slabinfo", "re");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char name[64];
        unsigned long long active, num, size;
        if (sscanf(line, "%63s %llu %llu %llu", name, &active, &num, &size) != 4)
            continue;
        for (int i = 0; caches[i]; i++)
            if (!strcmp(name, caches[i])) {
                k->slab_bytes += active * size;
                k->slab_ok = true;
            }
    }
    if (f)
        fclose(f);
    char path[64];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/net/sockstat", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/net/sockstat");
    f = fopen(path, "re");
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long inuse, orphan, tw, alloc, mem;
        if (sscanf(line, "TCP: inuse %llu orphan %llu tw %llu alloc %llu mem %llu", &inuse,
                   &orphan, &tw, &alloc, &mem) == 5) {
            k->tcp_inuse = inuse;
            k->tcp_mem_pages = mem;
            k->sockstat_ok = true;
        }
    }
    if (f)
        fclose(f);
}

/* ---- sysctls ---------------------------------------------------------------------- */

#define MAX_SYSCTL 16
static struct {
    char name[64], old[128], now[128];
} changed[MAX_SYSCTL];
static unsigned nchanged;

static void sysctl_path(const char *name, char *path, size_t len)
{
    snprintf(path, len, "/proc/sys/%s", name);
    for (char *p = path + 10; *p; p++)
        if (*p == '.')
            *p = '/';
}

int lab_sysctl_read(const char *name, char *buf, size_t len)
{
    char path[160];
    sysctl_path(name, path, sizeof path);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    if (!fgets(buf, (int)len, f))
        buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    for (char *p = buf; *p; p++)
        if (*p == '\t')
            *p = ' ';
    return 0;
}

static int sysctl_write(const char *name, const char *value)
{
    char path[160];
    sysctl_path(name, path, sizeof path);
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    int rc = fputs(value, f) < 0 ? -EIO : 0;
    if (fclose(f) != 0)
        rc = -errno;
    return rc;
}

static void state_path(pid_t pid, char *buf, size_t len)
{
    snprintf(buf, len, "/run/c1m-lab-%d.sysctl", (int)pid);
}

int lab_sysctl_set(const char *name, const char *value)
{
    char old[128];
    int rc = lab_sysctl_read(name, old, sizeof old);
    if (rc < 0)
        return rc;
    if (!strcmp(old, value))
        return 0;
    if (nchanged == MAX_SYSCTL)
        return -ENOSPC;
    char sp[64];
    state_path(getpid(), sp, sizeof sp);
    FILE *st = fopen(sp, "ae");
    if (st) {
        fprintf(st, "%s %s\n", name, old);
        fclose(st);
    }
    rc = sysctl_write(name, value);
    if (rc < 0)
        return rc;
    unsigned i = nchanged++;
    snprintf(changed[i].name, sizeof changed[i].name, "%s", name);
    snprintf(changed[i].old, sizeof changed[i].old, "%s", old);
    snprintf(changed[i].now, sizeof changed[i].now, "%s", value);
    return 0;
}

void lab_sysctl_restore_all(bool verbose)
{
    while (nchanged) {
        unsigned i = --nchanged;
        int rc = sysctl_write(changed[i].name, changed[i].old);
        if (verbose)
            fprintf(stderr, "c1m lab: restored %s = %s%s\n", changed[i].name, changed[i].old,
                    rc < 0 ? " (FAILED)" : "");
    }
    char sp[64];
    state_path(getpid(), sp, sizeof sp);
    unlink(sp);
}

unsigned lab_sysctl_changes(char lines[][160], unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < nchanged && n < max; i++, n++)
        snprintf(lines[n], 160, "%s: %s -> %s", changed[i].name, changed[i].old, changed[i].now);
    return n;
}

/* ---- network namespaces ----------------------------------------------------------- */

/* Run a command without a shell: the formatted line is split on spaces
 * into an argument vector and run with fork + execvp, so no name can be
 * read as shell syntax. Every name put into a line is either made by the
 * lab itself or passed lab_name_ok() first, so none contains a space. */
static int run(bool quiet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(bool quiet, const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char line[512], *argv[32], *save = NULL;
    unsigned argc = 0;
    snprintf(line, sizeof line, "%s", cmd);
    for (char *w = strtok_r(line, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    if (!argc)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (quiet) {
            int dn = open("/dev/null", O_WRONLY);
            if (dn >= 0) {
                dup2(dn, 1);
                dup2(dn, 2);
            }
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    int rc = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
    if (rc != 0 && !quiet)
        fprintf(stderr, "c1m lab: '%s' failed\n", cmd);
    return rc;
}

bool lab_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A sysctl value as the lab writes them: digits separated by blanks. */
static bool sysctl_value_ok(const char *v)
{
    if (!*v || strlen(v) > 120)
        return false;
    for (; *v; v++)
        if (!((*v >= '0' && *v <= '9') || *v == ' ' || *v == '\t'))
            return false;
    return true;
}

static bool pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int lab_net_clean_stale(void)
{
    int removed = 0;
    int me = getpid();
    DIR *d = opendir("/run/netns");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid;
        if (sscanf(e->d_name, "c1m-lab-%d-", &pid) == 1 && pid != me && !pid_alive(pid)) {
            if (!lab_name_ok(e->d_name, 47)) {
                fprintf(stderr, "c1m lab: not touching /run/netns entry with unexpected "
                                "characters or length (not the lab's)\n");
                continue;
            }
            fprintf(stderr, "c1m lab: removing stale namespace %s\n", e->d_name);
            removed += run(true, "ip netns del %s", e->d_name) == 0;
        }
    }
    if (d)
        closedir(d);
    d = opendir("/sys/class/net");
    while (d && (e = readdir(d))) {
        int pid;
        char kind;
        if ((sscanf(e->d_name, "c1mb%d", &pid) == 1 ||
             sscanf(e->d_name, "c1m%d%c", &pid, &kind) == 2) &&
            pid != me && !pid_alive(pid)) {
            if (!lab_name_ok(e->d_name, 15)) { /* IFNAMSIZ - 1 */
                fprintf(stderr, "c1m lab: not touching network link with unexpected "
                                "characters or length (not the lab's)\n");
                continue;
            }
            fprintf(stderr, "c1m lab: removing stale link %s\n", e->d_name);
            removed += run(true, "ip link del %s", e->d_name) == 0;
        }
    }
    if (d)
        closedir(d);
    d = opendir("/run");
    while (d && (e = readdir(d))) {
        int pid;
        if (sscanf(e->d_name, "c1m-lab-%d.sysctl", &pid) != 1 || pid == me || pid_alive(pid))
            continue;
        char path[300], line[300];
        snprintf(path, sizeof path, "/run/%s", e->d_name);
        FILE *f = fopen(path, "re");
        /* restore in reverse order: the first line holds the oldest value */
        char names[MAX_SYSCTL][64], vals[MAX_SYSCTL][128];
        int n = 0;
        while (f && n < MAX_SYSCTL && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            char *sp = strchr(line, ' ');
            if (!sp)
                continue;
            *sp = 0;
            /* the file is root's, but check what it says before acting on it */
            if (!lab_name_ok(line, 63) || strstr(line, "..") || !sysctl_value_ok(sp + 1)) {
                fprintf(stderr, "c1m lab: %s: ignoring a malformed line\n", path);
                continue;
            }
            snprintf(names[n], 64, "%.63s", line);
            snprintf(vals[n], 128, "%.127s", sp + 1);
            n++;
        }
        if (f)
            fclose(f);
        while (n-- > 0) {
            fprintf(stderr, "c1m lab: restoring %s = %s (left by lab %d)\n", names[n], vals[n],
                    pid);
            sysctl_write(names[n], vals[n]);
            removed++;
        }
        unlink(path);
    }
    if (d)
        closedir(d);
    return removed;
}

/* --hosts puts 198.18.0.1/15 on a bridge: refuse when anything on this
 * machine already has an address or a route in 198.18.0.0/15 (RFC 2544
 * benchmarking range, but someone's lab may use it), rather than shadow
 * it. Addresses from getifaddrs(), routes from /proc/net/route (the
 * default route, prefix 0, does not count). */
int lab_hosts_range_check(char *why, size_t len)
{
    const uint32_t net = 0xc6120000u, mask = 0xfffe0000u; /* 198.18.0.0/15 */
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) == 0) {
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                continue;
            uint32_t a = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
            if ((a & mask) == net) {
                char b[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, b,
                          sizeof b);
                snprintf(why, len, "address %s on %.32s is in 198.18.0.0/15", b, i->ifa_name);
                freeifaddrs(ifa);
                return -EEXIST;
            }
        }
        freeifaddrs(ifa);
    }
    FILE *f = fopen("/proc/net/route", "re");
    char line[256], dev[64];
    unsigned dst, gw, flags, refcnt, use, metric, m;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%63s %x %x %x %u %u %u %x", dev, &dst, &gw, &flags, &refcnt, &use,
                   &metric, &m) != 8)
            continue; /* the header line */
        uint32_t d = ntohl(dst), dm = ntohl(m);
        if (!dm)
            continue;
        uint32_t common = dm & mask; /* the shorter of the two prefixes */
        if ((d & common) == (net & common)) {
            struct in_addr ia = { .s_addr = dst };
            char b[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &ia, b, sizeof b);
            snprintf(why, len, "route to %s/%d via %.32s overlaps 198.18.0.0/15", b,
                     __builtin_popcount(dm), dev);
            fclose(f);
            return -EEXIST;
        }
    }
    if (f)
        fclose(f);
    return 0;
}

#define MAX_NS 256
static char ns_names[MAX_NS][48];
static unsigned nns;
static bool bridge_made;
static unsigned nveth;

static int open_ns(const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int lab_netns_create(const char *tag, char *name, size_t namelen)
{
    if (nns == MAX_NS)
        return -ENOSPC;
    snprintf(ns_names[nns], sizeof ns_names[nns], "c1m-lab-%d-%s", (int)getpid(), tag);
    if (run(false, "ip netns add %s", ns_names[nns]) < 0)
        return -EPERM;
    const char *ns = ns_names[nns++];
    if (name)
        snprintf(name, namelen, "%s", ns);
    if (run(false, "ip -n %s link set lo up", ns) < 0)
        return -EIO;
    return open_ns(ns);
}

int lab_hosts_create(unsigned k, unsigned naddrs, int *fds)
{
    int me = getpid();
    if (run(false, "ip link add c1mb%d type bridge", me) < 0)
        return -EPERM;
    bridge_made = true;
    if (run(false, "ip addr add 198.18.0.1/15 dev c1mb%d", me) < 0 ||
        run(false, "ip link set c1mb%d up", me) < 0)
        return -EIO;
    for (unsigned i = 0; i < k; i++) {
        char tag[16], ns[48];
        snprintf(tag, sizeof tag, "h%u", i);
        int fd = lab_netns_create(tag, ns, sizeof ns);
        if (fd < 0)
            return fd;
        fds[i] = fd;
        if (run(false, "ip link add c1m%dh%u type veth peer name c1m%dp%u", me, i, me, i) < 0)
            return -EIO;
        nveth = i + 1;
        if (run(false, "ip link set c1m%dh%u master c1mb%d up", me, i, me) < 0 ||
            run(false, "ip link set c1m%dp%u netns %s", me, i, ns) < 0 ||
            run(false, "ip -n %s link set c1m%dp%u up", ns, me, i) < 0)
            return -EIO;
        /* the addresses in one batch: one ip process per host */
        char batch[] = "/tmp/c1m-lab-ipbatch-XXXXXX";
        int bfd = mkstemp(batch);
        if (bfd < 0)
            return -errno;
        FILE *bf = fdopen(bfd, "w");
        for (unsigned a = 0; a < naddrs; a++)
            fprintf(bf, "addr add 198.18.%u.%u/15 dev c1m%dp%u\n", 1 + i, 2 + a, me, i);
        fclose(bf);
        int rc = run(false, "ip -n %s -batch %s", ns, batch);
        unlink(batch);
        if (rc < 0)
            return -EIO;
    }
    return 0;
}

void lab_net_destroy_all(bool verbose)
{
    /* the root side of each veth pair first: deleting a namespace removes
     * its end only when the kernel gets round to it */
    while (nveth) {
        nveth--;
        run(true, "ip link del c1m%dh%u", (int)getpid(), nveth);
    }
    while (nns) {
        const char *ns = ns_names[--nns];
        run(true, "ip netns del %s", ns);
        if (verbose)
            fprintf(stderr, "c1m lab: removed namespace %s\n", ns);
    }
    if (bridge_made) {
        run(true, "ip link del c1mb%d", (int)getpid());
        bridge_made = false;
    }
}

/* ---- pre-flight ---------------------------------------------------------------------- */

