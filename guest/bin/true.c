/* true: exit 0 and do nothing else (what fork/exec stress loops exec). */
int main(void) {
  return 0;
}
