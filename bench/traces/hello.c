#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; int v; };
int main(int argc, char **argv) {
    struct node *head = NULL;
    for (int i = 0; i < 1000; i++) { struct node *n = malloc(sizeof *n); n->v = i; n->next = head; head = n; }
    long s = 0; for (struct node *n = head; n; n = n->next) s += n->v;
    printf("%ld %s\n", s, argc > 1 ? argv[1] : "");
    return 0;
}
