#include <napi.h>
#include <nvtx3/nvToolsExt.h>

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }
NODE_API_MODULE(gil_nvtx, Init)
