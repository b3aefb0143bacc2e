/* Where a result came from: every JSON file c1m writes and the top of
 * lab's table.md carry c1m's version and commit, the date, the kernel, the
 * CPU model and count, the memory, the open-file limits and the command
 * line (and for the lab the kernel settings it changed and restored). */
#ifndef C1M_TOOLS_PROVENANCE_H
#define C1M_TOOLS_PROVENANCE_H

#include <jansson.h>
#include <stdio.h>

/* Remember the command line as typed (main, before anything changes argv). */
void c1m_prov_set_argv(int argc, char **argv);

/* The "provenance" object (new reference). sysctls: lines "name: before ->
 * during" of kernel settings changed for the run and restored after
 * (NULL/0: none). */
json_t *c1m_prov_json(const char (*sysctls)[160], unsigned nsysctls);

/* The same as Markdown list items ("- c1m 0.1.0 (commit ...), ..."). */
void c1m_prov_markdown(FILE *f, const char (*sysctls)[160], unsigned nsysctls);

#endif
