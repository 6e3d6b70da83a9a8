"""Jitted functions as first-class function values (the engine's objective, stage walk and noise fill).

A jitted function that receives another jitted function as an argument is compiled once per callee:
the callee is part of its type, and its code is linked in and re-optimised each time. Received as a
first-class function value instead (a typed function pointer, :func:`first_class`), the callee is part
of the caller's type only through its signature: the engine's step loop is compiled (or loaded from the
cache) once and serves every objective, chain and noise, and a process compiles only the pieces it runs.
The price is an indirect call (a few ns) per call, on calls that each do O(d) work.
"""
from numba.core.types.function_type import WrapperAddressProtocol

__all__ = ["first_class"]


def first_class(fn, sig):
    """``fn`` (a ``numba.njit`` dispatcher) compiled for ``sig`` (or loaded from its cache) as a
    first-class function value: a jitted function receiving it sees the type ``FunctionType(sig)``."""
    fn.compile(sig)
    return _FirstClass(fn.overloads[sig.args])


class _FirstClass(WrapperAddressProtocol):
    """A compile result as a first-class function: its C-callable wrapper's address and its signature.
    Exceptions cannot cross that wrapper: only functions that never raise are passed this way."""

    def __init__(self, cres):
        self.cres = cres
        self.address = cres.library.get_pointer_to_function(cres.fndesc.llvm_cfunc_wrapper_name)

    def __wrapper_address__(self):
        return self.address

    def signature(self):
        return self.cres.signature
