/* The System V key of the heartbeat table. */
#ifndef HBWATCH_KEY_H
#define HBWATCH_KEY_H

/* Parse a key written in hex ("0x5098" or "5098").  Strict: the whole
 * string, 1..0x7fffffff (0 is IPC_PRIVATE).  Returns 0 or -EINVAL. */
int key_parse(const char *s, int *key);

/* The key clients use: $HBWATCH_KEY if set, else HB_KEY_DEFAULT.
 * Returns 0, or -EINVAL if $HBWATCH_KEY is malformed. */
int key_from_env(int *key);

#endif
