//! Workers that tail the log and build the views: cases, figures, households, members, search. (work in progress)
