/* c1m lab: what it reads from and changes in the kernel.
 *
 *   - CPU and memory of a process tree (/proc/PID/stat, /proc/PID/statm)
 *   - kernel socket memory (/proc/slabinfo, /proc/PID/net/sockstat)
 *   - sysctls it raises for a large run, restored afterwards (also by a
 *     later run if this one was killed: the originals are kept in a file)
 *   - network namespaces, a bridge and veth pairs named after the lab's
 *     PID, removed on exit, on a signal, or by a later run if stale. */
#ifndef C1M_TOOLS_LAB_SYS_H
#define C1M_TOOLS_LAB_SYS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- a process tree ---- */
typedef struct lab_tree_sample {
    uint64_t wall_ns;
    uint64_t cpu_ticks;     /* utime + stime of the root and its descendants */
    uint64_t rss_bytes;     /* sum of resident set sizes */
    uint32_t nprocs;
} lab_tree_sample_t;

void lab_tree_sample(pid_t root, lab_tree_sample_t *s);
long lab_clock_ticks(void);

/* ---- kernel socket memory ---- */
typedef struct lab_kmem {
    uint64_t slab_bytes;    /* active objects x size: TCP, tcp_bind_bucket, sock_inode_cache,
                               request_sock_TCP, dentry is not counted */
    uint64_t tcp_inuse;     /* sockstat of the namespace given */
    uint64_t tcp_mem_pages; /* sockstat 'TCP: ... mem N' (buffer pages) */
    bool slab_ok, sockstat_ok;
} lab_kmem_t;

/* pid > 0: the sockstat of that process's network namespace; else ours. */
void lab_kmem_read(pid_t pid, lab_kmem_t *k);

/* ---- sysctls ---- */
int lab_sysctl_read(const char *name, char *buf, size_t len);   /* "net.ipv4.tcp_mem" */
/* Set and remember the original (restored by lab_sysctl_restore_all). */
int lab_sysctl_set(const char *name, const char *value);
void lab_sysctl_restore_all(bool verbose);
/* A change made, for the report: "name: old -> new". */
unsigned lab_sysctl_changes(char lines[][160], unsigned max);

/* ---- network namespaces ---- */
/* Remove namespaces, links and sysctl state left by lab runs whose PID is
 * gone; returns how many objects were removed. */
int lab_net_clean_stale(void);
/* A namespace "c1m-lab-<pid>-<tag>" with lo up; returns an fd for setns or
 * -errno. */
int lab_netns_create(const char *tag, char *name, size_t namelen);

/* A name the lab may act on (a namespace, a link, a sysctl): 1..max bytes
 * of [A-Za-z0-9._-], not starting with '-'. Names read from /run/netns,
 * /sys/class/net and the lab's state file pass this before any use. */
bool lab_name_ok(const char *s, size_t max);

/* 0 when no address or route on this machine is in 198.18.0.0/15 (what
 * --hosts uses); else -EEXIST and a one-line reason in why. */
int lab_hosts_range_check(char *why, size_t len);
/* K client hosts on a bridge: host i gets addresses 198.18.(1+i).2 ...
 * 198.18.(1+i).(1+naddrs) on a veth in namespace c1m-lab-<pid>-h<i>; the
 * bridge in the root namespace has 198.18.0.1/15. fds[i] for setns. */
int lab_hosts_create(unsigned k, unsigned naddrs, int *fds);
/* Remove everything this process created (idempotent, async-signal-unsafe
 * but fine from atexit and after a signal set a flag). */
void lab_net_destroy_all(bool verbose);

/* ---- pre-flight ---- */

#endif
