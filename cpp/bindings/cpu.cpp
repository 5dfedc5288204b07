// bpcore._cpu: which instruction-set builds of the core this CPU runs, asked by bpcore/_loader.py
// before it loads one. The plain C API and no other library, so that asking costs next to nothing
// at import (a pybind11 module would register its own types, and a build of the core is a
// 2 MB library to map).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "cpu_features.hpp"

namespace {

PyObject* supports(PyObject* /*module*/, PyObject* arg) {
  if (!PyUnicode_Check(arg)) {
    PyErr_Format(PyExc_TypeError, "feature must be a str; got %s", Py_TYPE(arg)->tp_name);
    return nullptr;
  }
  const char* feature = PyUnicode_AsUTF8(arg);
  if (feature == nullptr) return nullptr;
  return PyBool_FromLong(bpcore::bindings::cpu_supports(feature) ? 1 : 0);
}

PyMethodDef methods[] = {
    {"supports", supports, METH_O,
     "supports(feature: str) -> bool\n\nWhether this CPU runs the 'avx2' or 'avx512' build of the "
     "core."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT,
                      "bpcore._cpu",
                      "Which instruction-set builds of bpcore's core this CPU runs. Private.",
                      0,
                      methods,
                      nullptr,
                      nullptr,
                      nullptr,
                      nullptr};

}  // namespace

PyMODINIT_FUNC PyInit__cpu() { return PyModule_Create(&module); }
