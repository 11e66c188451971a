/* Initial-exec TLS in a library the test dlopens after threads exist: it
   lands in the static TLS surplus, which glibc initialises only in threads
   it knows. */
__attribute__((tls_model("initial-exec"))) __thread int tv_dl_ie = 1234;
__attribute__((tls_model("initial-exec"))) __thread char tv_dl_ie_bss[64];
int *tls_dl_ie_addr(void)
{
    return &tv_dl_ie;
}
char *tls_dl_ie_bss_addr(void)
{
    return tv_dl_ie_bss;
}
