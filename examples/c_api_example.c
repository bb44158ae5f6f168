/* Running an agent from C through the C ABI, with a tool written in C.
 *   build/examples/c_api_example examples/orders.yaml "Where is order 1234?" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/c_api.h"

static int lookup_order(const char* arguments_json, void* user_data, char** output) {
  int* calls = (int*)user_data;
  ++*calls;
  const char* found = strstr(arguments_json, "1234") ? "order 1234: shipped, arriving Friday"
                                                     : "no such order";
  *output = (char*)malloc(strlen(found) + 1);
  strcpy(*output, found);
  return 0;
}

static void on_event(const char* event_json, void* user_data) {
  (void)user_data;
  if (strstr(event_json, "\"event\":\"tool_result\"")) printf("%s\n", event_json);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s AGENT.yaml QUESTION\n", argv[0]);
    return 2;
  }
  int calls = 0;
  char* err = NULL;
  r1_runtime* rt = r1_runtime_new(0);
  if (!rt) return 1;
  if (r1_runtime_register_tool(rt, "lookup_order", "Finds the status of an order by its number",
                               "{\"type\":\"object\",\"properties\":{\"order_id\":"
                               "{\"type\":\"integer\",\"minimum\":1}},\"required\":[\"order_id\"]}",
                               lookup_order, &calls, &err) != 0) {
    fprintf(stderr, "register: %s\n", err);
    r1_string_free(err);
    r1_runtime_free(rt);
    return 2;
  }
  char* result = NULL;
  int rc = r1_run(rt, argv[1], argv[2], NULL, on_event, NULL, &result, &err);
  if (rc != 0) {
    fprintf(stderr, "run: %s\n", err);
    r1_string_free(err);
  } else {
    printf("result: %s\n", result);
    r1_string_free(result);
  }
  r1_runtime_free(rt);
  printf("the C tool was called %d times\n", calls);
  return rc == 0 && calls > 0 ? 0 : 1;
}
