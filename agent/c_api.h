/* The C ABI of r1: run YAML agents from C, Go, Python, Java.
 *
 * Opaque handles, callbacks with a user-data pointer, explicit frees. Every string the library
 * returns is malloc'ed and must be released with r1_string_free(). Functions return 0 on success
 * and a non-zero exit-style code (1 runtime failure, 2 bad input) on failure, with a one-line
 * message in *error when error is not NULL. A runtime may be used from one thread at a time.
 *
 *   r1_runtime* rt = r1_runtime_new(0);
 *   r1_runtime_register_tool(rt, "lookup", "Finds a record", "{\"type\":\"object\",...}",
 *                            my_lookup, my_state, &err);
 *   char* result = NULL;
 *   r1_run(rt, "agent.yaml", "Find record 7", NULL, on_event, NULL, &result, &err);
 *   ...; r1_string_free(result); r1_runtime_free(rt);
 */
#ifndef R1_C_API_H
#define R1_C_API_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct r1_runtime r1_runtime;

/* threads: CPU threads for native engines, 0 = all cores. NULL on failure. */
r1_runtime* r1_runtime_new(int threads);
void r1_runtime_free(r1_runtime* rt);

/* A tool handler: receives the validated arguments as JSON text; sets *output to a malloc'ed
 * UTF-8 string (the result the model sees) and returns 0, or returns non-zero for an error (then
 * *output, if set, is the error text). Called from a worker thread. */
typedef int (*r1_tool_fn)(const char* arguments_json, void* user_data, char** output);

/* Registers a tool agents may name in their YAML `tools:` list. */
int r1_runtime_register_tool(r1_runtime* rt, const char* name, const char* description,
                             const char* parameters_schema_json, r1_tool_fn fn, void* user_data,
                             char** error);

/* Receives each event of a run as one JSON object (see `r1 run --events json`). */
typedef void (*r1_event_fn)(const char* event_json, void* user_data);

/* Runs the agent in `agent_yaml_path` on `input`. session_id may be NULL (a new session).
 * On success *result_json (if not NULL) is {"run_id","session_id","stop_reason","answer",
 * "error","steps","tool_calls","tokens"}. */
int r1_run(r1_runtime* rt, const char* agent_yaml_path, const char* input,
           const char* session_id, r1_event_fn on_event, void* user_data, char** result_json,
           char** error);

void r1_string_free(char* s);

#ifdef __cplusplus
}
#endif

#endif /* R1_C_API_H */
