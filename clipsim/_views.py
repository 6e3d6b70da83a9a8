"""Array views that own no reference, for hot loops.

Numba keeps a reference count on every array's memory (an atomic increment and decrement, about 20
cycles each, on a word every thread using that array shares). Each time an inlined function rebinds an
array argument, or a callee receives one, the compiled code increments and later decrements it: in the
step loop that was dozens of atomic operations per step, half the time of a d = 1 step, and cache-line
traffic between threads working on the same shared arrays. :func:`borrow` returns the same array with a
null owner, so those operations become a null test. The caller must keep the owner alive (hold it in a
variable used after the last use of the view); a function may always borrow its own arguments, which its
caller keeps alive for the duration of the call.
"""
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["borrow"]


@intrinsic
def borrow(typingctx, arr):
    """``arr`` as a view of the same type with no owner (meminfo and parent null)."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, value=args[0])
        ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
        ary.parent = cgutils.get_null_value(ary.parent.type)
        return ary._getvalue()

    return arr(arr), codegen
