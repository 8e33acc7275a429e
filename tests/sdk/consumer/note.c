/* tests/sdk/consumer/note.c — OPTIONS_FILES reached nanopb: note.options,
 * kept outside proto/, bounds Note.text and Note.tags (without it both
 * would be callbacks and this would not compile). */
#include <stdint.h>

#include "note/v1/note.pb.h"

_Static_assert(sizeof(((note_v1_Note *)0)->text) == 16,
    "note.v1.Note.text max_size:16 from OPTIONS_FILES");
_Static_assert(sizeof(((note_v1_Note *)0)->tags) == 4 * sizeof(uint32_t),
    "note.v1.Note.tags max_count:4 from OPTIONS_FILES");

/* The encoded-size bound nanopb derived from the options. */
int
note_max_size(void)
{
	return note_v1_Note_size;
}
