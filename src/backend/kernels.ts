/**
 * Kernels the wasm backend lacks for training (filled in by the backend work: Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackpropInput/Filter, UnsortedSegmentSum, ...).
 */
export function registerWasmKernels(): void {
  /* placeholder: see issue "Foundation" */
}
