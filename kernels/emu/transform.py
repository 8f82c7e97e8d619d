# A kernel file (kernels/attn.cu, kernels/linear.cu) as C++ for the emulator
# (emu.h): the kernels' own headers (kernels/*.cuh) inlined, launches
# become emu_launch(config)(kernel, args), __shared__ arrays statics (the
# blocks of a launch run one after another), the dynamic shared memory the
# launch's.
import os, re, sys
src = sys.argv[1]
s = open(src).read()
s = re.sub(r'#include "(\w+\.cuh)"',
           lambda m: open(os.path.join(os.path.dirname(src), m.group(1))).read(), s)
s = s.replace('#include "cuda_ops.h"', '#include "emu.h"').replace('#include <cuda_runtime.h>', '')
s = s.replace('extern __shared__ R sm[];', 'R *sm = (R *)emu_dyn_smem();')
s = s.replace('__shared__ ', 'static ')
s = re.sub(r'(\w+(?:<\w+>)?)<<<(.*?)>>>\(', lambda m: 'emu_launch(%s)(%s, ' % (m.group(2), m.group(1)), s, flags=re.S)
s = re.sub(r'\bNULL\b', 'nullptr', s)
open(sys.argv[2], 'w').write(s)
