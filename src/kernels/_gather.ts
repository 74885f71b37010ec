// Gathers of x by column indices, shared by the CSR kernels (csr.ts, csr-half.ts).

/** (x[idx[0]], x[idx[1]], x[idx[2]], x[idx[3]]) for the 4 indices of type I at ip. */
// @ts-ignore: decorator
@inline export function gather4<I>(x: usize, ip: usize): v128 {
  const B = sizeof<I>();
  let g = v128.load32_zero(x + (<usize>load<I>(ip) << 2));
  g = v128.load32_lane(x + (<usize>load<I>(ip, B) << 2), g, 1);
  g = v128.load32_lane(x + (<usize>load<I>(ip, 2 * B) << 2), g, 2);
  return v128.load32_lane(x + (<usize>load<I>(ip, 3 * B) << 2), g, 3);
}
