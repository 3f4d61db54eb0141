/*
 * The numeric check of the lean batch path (api/batch.py) in one pass over the parsed rows.
 *
 * Built against this interpreter's headers (api/ckernel.py) and loaded with ctypes.PyDLL, so it is
 * called with the GIL held and reads the objects orjson made: rows (a list of dicts) and the names
 * of the numeric fields they hold (a tuple of str, integer fields first). It only ever says yes:
 * any value it cannot prove valid returns 0 and the caller falls back to the Python check (and so
 * to pydantic), with no Python error left set. Every value must be exactly an int or a float (not
 * a bool), or None where the field is nullable; an integer field holds an int that fits int64
 * (None and floats are left to pydantic, as the Python check does); a value must lie in
 * [lo, hi]. The values land in `out`, row-major (n_rows x n_names), as float64.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define ROWS_ABI_VERSION 1

int32_t fr_abi_version(void) { return ROWS_ABI_VERSION; }

int32_t fr_numbers(PyObject *rows, PyObject *names, int64_t n_ints, const double *lo, const double *hi,
                   const uint8_t *nullable, double *out) {
    if (!PyList_CheckExact(rows) || !PyTuple_CheckExact(names)) return 0;
    const Py_ssize_t n = PyList_GET_SIZE(rows), k = PyTuple_GET_SIZE(names);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyDict_CheckExact(row)) return 0;
        double *dst = out + i * k;
        for (Py_ssize_t j = 0; j < k; j++) {
            PyObject *v = PyDict_GetItemWithError(row, PyTuple_GET_ITEM(names, j)); /* borrowed */
            double d;
            if (v == NULL) {
                PyErr_Clear(); /* absent (or an unhashable key's error): not this path's body */
                return 0;
            }
            if (v == Py_None) {
                if (j < n_ints || !nullable[j]) return 0;
                dst[j] = NAN;
                continue;
            }
            if (PyFloat_CheckExact(v)) {
                if (j < n_ints) return 0;
                d = PyFloat_AS_DOUBLE(v);
            } else if (PyLong_CheckExact(v)) {
                if (j < n_ints) {
                    int overflow = 0;
                    const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
                    if (overflow || (x == -1 && PyErr_Occurred())) {
                        PyErr_Clear();
                        return 0;
                    }
                    d = (double)x;
                } else {
                    d = PyLong_AsDouble(v);
                    if (d == -1.0 && PyErr_Occurred()) {
                        PyErr_Clear(); /* too large for a double */
                        return 0;
                    }
                }
            } else {
                return 0; /* a bool, a string, a list, ... */
            }
            if (!(d >= lo[j] && d <= hi[j])) return 0;
            dst[j] = d;
        }
    }
    return 1;
}
