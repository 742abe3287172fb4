/* pagecost: what this machine's kernel spends per page faulting in, and per page zapping.
 *
 * The lab's address space gives a write fault `page_work` units of page work and its munmap's
 * zap the same per page (structures/mm/address_space.py: `fault_in`, `_zap`).  This program
 * measures the kernel's own proportion with will-it-scale's page_fault1 iteration, one thread:
 * mmap 128 MiB anonymous, write one byte per 4 KiB page (each write a fault that allocates and
 * clears a page), munmap (the zap: unmap, free every page, flush).  It prints the time per page
 * of the faults and of the munmap, and their ratio: the share of a fault's page work that a
 * zap of one page would carry in a model calibrated to this kernel.
 *
 *     gcc -O2 -o /tmp/pagecost tools/pagecost.c && /tmp/pagecost
 *
 * Transparent huge pages off for the mapping (MADV_NOHUGEPAGE), so every fault is a 4 KiB one,
 * as in the model.  Not built by the lab's tests; results/README.md section 7 quotes its output.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define MEMSIZE (128UL << 20) /* will-it-scale's page_fault1 MEMSIZE */
#define PAGE 4096UL
#define WARMUP 5
#define ITERATIONS 40

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void)
{
	double map = 0, fault = 0, zap = 0;

	for (int it = 0; it < WARMUP + ITERATIONS; it++) {
		double t0 = now();
		char *c = mmap(NULL, MEMSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (c == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		madvise(c, MEMSIZE, MADV_NOHUGEPAGE);
		double t1 = now();
		for (unsigned long i = 0; i < MEMSIZE; i += PAGE)
			c[i] = 0;
		double t2 = now();
		if (munmap(c, MEMSIZE)) {
			perror("munmap");
			return 1;
		}
		double t3 = now();
		if (it >= WARMUP) {
			map += t1 - t0;
			fault += t2 - t1;
			zap += t3 - t2;
		}
	}
	double pages = (double)(MEMSIZE / PAGE) * ITERATIONS;
	printf("per 4 KiB page: fault %.0f ns, zap %.0f ns (zap / fault %.3f); mmap %.1f us per call\n",
	       fault / pages * 1e9, zap / pages * 1e9, zap / fault, map / ITERATIONS * 1e6);
	return 0;
}
