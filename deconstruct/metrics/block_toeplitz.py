"""Linear systems with symmetric block-Toeplitz matrices (the Gram matrices of delayed multichannel signals).

``T`` has ``L x L`` blocks of size ``m x m`` with ``T[i, j] = blocks[j - i]`` for ``j >= i`` and
``blocks[i - j]^T`` below the diagonal. :func:`solve` uses the block Levinson recursion (Whittle 1963; Wiggins and
Robinson 1965) in ``O(L^2 m^3)`` operations instead of the ``O(L^3 m^3)`` of a dense factorisation. It checks
the residual and re-solves by dense LU any system whose residual is above the level of a backward-stable solver
(Levinson is only weakly stable on nearly singular matrices); exactly singular systems get the least-squares
solution, as in museval.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

__all__ = ["dense", "dense_solve", "matmul", "solve"]

RESIDUAL_TOLERANCE = 1e-12


def solve(blocks: torch.Tensor, rhs: torch.Tensor, tolerance: float = RESIDUAL_TOLERANCE) -> torch.Tensor:
    """Solve ``T x = rhs`` for positive definite block-Toeplitz ``T``.

    Args:
        blocks: the first block row ``T[0, k]``, ``k = 0 .. L-1``.
        rhs: right-hand sides, batch dimensions broadcasting with those of ``blocks``.
        tolerance: largest accepted ``||T x - rhs|| / (||T|| ||x|| + ||rhs||)`` (Frobenius norms) before the
            system is solved again by dense LU.

    Returns:
        ``x``, ``[*batch, L, m, k]``.

    Shape:
        blocks: ``[*batch_t, L, m, m]``; rhs: ``[*batch_r, L, m, k]``.
    """
    with _single_threaded(blocks.device):
        solution = _levinson(blocks, rhs)
    residual = (matmul(blocks, solution) - rhs).flatten(-3).norm(dim=-1)
    scale = _frobenius_norm(blocks) * solution.flatten(-3).norm(dim=-1) + rhs.flatten(-3).norm(dim=-1)
    accepted = residual <= tolerance * scale  # False for NaN
    if bool(accepted.all()):
        return solution
    size = blocks.shape[-3] * blocks.shape[-1]
    flat_rhs = rhs.reshape(*rhs.shape[:-3], size, rhs.shape[-1])
    dense_solution = dense_solve(dense(blocks), flat_rhs).reshape(solution.shape)
    return torch.where(accepted[..., None, None, None], solution, dense_solution)


def dense_solve(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """LU solve; for exactly singular systems the least-squares solution (SVD-based, on the CPU), as museval.

    Shape:
        matrix: ``[*batch_m, n, n]``; rhs: ``[*batch_r, n, k]`` → ``[*batch, n, k]``.
    """
    try:
        solution, info = torch.linalg.solve_ex(matrix, rhs)
    except RuntimeError:  # some LAPACK builds raise on exact singularity instead of reporting it in ``info``
        solution = torch.zeros(torch.broadcast_shapes(matrix.shape[:-2], rhs.shape[:-2]) + rhs.shape[-2:],
                               dtype=rhs.dtype, device=rhs.device)
        info = torch.ones(solution.shape[:-2], dtype=torch.int32, device=rhs.device)
    singular = info != 0
    if bool(singular.any()):
        shape = solution.shape
        least_squares = torch.linalg.lstsq(
            matrix.expand(*shape[:-2], *matrix.shape[-2:]).cpu(), rhs.expand(shape).cpu(), driver="gelsd"
        ).solution.to(solution.device)
        solution = torch.where(singular[..., None, None], least_squares, solution)
    return solution


def dense(blocks: torch.Tensor) -> torch.Tensor:
    """The full matrix ``T``, ``[*batch, L m, L m]``, rows and columns ordered ``(block, index in block)``."""
    length = blocks.shape[-3]
    lags = torch.arange(length, device=blocks.device)
    offset = lags[None, :] - lags[:, None]  # j - i
    upper = blocks[..., offset.clamp(min=0), :, :]  # [*b, L, L, m, m]
    lower = blocks[..., (-offset).clamp(min=0), :, :].transpose(-2, -1)
    full = torch.where((offset >= 0)[:, :, None, None], upper, lower)
    return full.transpose(-3, -2).reshape(*blocks.shape[:-3], length * blocks.shape[-1], -1)


def matmul(blocks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``T x`` by FFT, ``O(L log L)`` per block pair.

    Shape:
        blocks: ``[*batch_t, L, m, m]``; x: ``[*batch_x, L, m, k]`` → ``[*batch, L, m, k]``.
    """
    length = blocks.shape[-3]
    # (T x)[a] = sum_k H(k) x[a + k] with H(k) = blocks[k] (k >= 0), blocks[-k]^T (k < 0): a correlation,
    # computed as the convolution of x with reversed H, h_rev[i] = H(L - 1 - i), read at L - 1 + a.
    reversed_kernel = torch.cat([blocks.flip(-3), blocks[..., 1:, :, :].transpose(-2, -1)], dim=-3)
    size = 1 << (3 * length - 2).bit_length()
    kernel_spec = torch.fft.rfft(reversed_kernel, size, dim=-3)
    x_spec = torch.fft.rfft(x, size, dim=-3)
    product = torch.fft.irfft(kernel_spec @ x_spec, size, dim=-3)
    return product[..., length - 1:2 * length - 1, :, :]


def _frobenius_norm(blocks: torch.Tensor) -> torch.Tensor:
    """``||T||_F`` from the first block row, ``[*batch]``."""
    length = blocks.shape[-3]
    weights = torch.full((length,), 2.0, dtype=blocks.dtype, device=blocks.device) * torch.arange(
        length, 0, -1, dtype=blocks.dtype, device=blocks.device
    )
    weights[0] = length
    return (blocks.square().sum(dim=(-2, -1)) * weights).sum(-1).sqrt()


def _levinson(blocks: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Block Levinson recursion with forward/backward predictors ``A``, ``B`` and their error matrices ``P``, ``Q``.

    Invariants after step ``k`` (``T_k``: the leading ``k + 1`` block rows and columns of ``T``):
    ``T_k A = [P, 0, ..., 0]``, ``T_k B = [0, ..., 0, Q]`` (``A[0] = B[k] = I``) and ``T_k x = rhs[:k + 1]``.
    """
    length, size = blocks.shape[-3], blocks.shape[-1]
    batch_t = blocks.shape[:-3]
    upper = blocks[..., 1:, :, :]
    # row_below[..., (L-2-k) m:] = [T[k+1, 0], ..., T[k+1, k]] = [blocks[k+1]^T, ..., blocks[1]^T]
    row_below = upper.transpose(-2, -1).flip(-3).movedim(-3, -2).reshape(*batch_t, size, (length - 1) * size)
    # row_above[..., :(k+1) m] = [T[0, 1], ..., T[0, k+1]] = [blocks[1], ..., blocks[k+1]]
    row_above = upper.movedim(-3, -2).reshape(*batch_t, size, (length - 1) * size)
    targets = rhs.reshape(*rhs.shape[:-3], length * size, rhs.shape[-1])

    error_forward = error_backward = blocks[..., 0, :, :]
    forward = backward = torch.eye(size, dtype=blocks.dtype, device=blocks.device).expand_as(error_forward)
    zero = torch.zeros_like(error_forward)
    solution = _small_solve(error_forward, targets[..., :size, :])
    for k in range(length - 1):
        filled = (k + 1) * size
        below = row_below[..., (length - 2 - k) * size:]
        mismatch_forward = below @ forward  # T[k+1, :k+1] A
        mismatch_backward = row_above[..., :filled] @ backward  # T[0, 1:k+2] B
        mismatch_solution = below @ solution
        alpha = -_small_solve(error_backward, mismatch_forward)
        beta = -_small_solve(error_forward, mismatch_backward)
        forward_padded = torch.cat([forward, zero], dim=-2)
        backward_padded = torch.cat([zero, backward], dim=-2)
        forward = forward_padded + backward_padded @ alpha
        backward = backward_padded + forward_padded @ beta
        error_forward = error_forward + mismatch_backward @ alpha
        error_backward = error_backward + mismatch_forward @ beta
        gamma = _small_solve(error_backward, targets[..., filled:filled + size, :] - mismatch_solution)
        solution = torch.cat([solution, torch.zeros_like(mismatch_solution)], dim=-2) + backward @ gamma
    return solution.reshape(*solution.shape[:-2], length, size, rhs.shape[-1])


def _small_solve(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve without raising on singular matrices: a breakdown leaves inf/NaN, which the residual check catches."""
    return torch.linalg.solve_ex(matrix, rhs)[0]


@contextmanager
def _single_threaded(device: torch.device) -> Iterator[None]:
    """Run torch single-threaded on the CPU for the duration.

    The Levinson loop issues thousands of tiny operations; waking a thread pool for each costs more than it saves,
    and on a busy machine a stalled worker makes every one of them wait (tens of times slower).
    """
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
